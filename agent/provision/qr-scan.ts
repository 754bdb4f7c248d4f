import jsQRModule from 'jsqr';

// jsqr is a UMD bundle whose module.exports is the function itself, while its types describe
// an ES module with a default export; accept both shapes.
type JsQr = typeof jsQRModule.default;
const loaded: unknown = jsQRModule;
const jsQR = (typeof loaded === 'function' ? loaded : jsQRModule.default) as JsQr;

/** An RGBA bitmap (4 bytes per pixel, row by row), as pngjs reads it. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array | Uint8ClampedArray;
}

interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

const MAX_CANDIDATES = 64;
const MAX_WHOLE_IMAGE_PASSES = 12;
/**
 * jsQR misreads some codes whose modules are about 4 pixels wide when module edges fall between
 * pixels (a 150 dpi render of a 0.68 mm module); decoding the same crop resampled larger
 * changes that phase and reads them.
 */
const UPSCALE_RETRIES = [1, 1.5, 2, 1.25];
const MAX_RESAMPLED_PIXELS = 16_000_000;

/**
 * Every QR code text in an image. jsQR finds one code per call and gives up when several are in
 * view, so the page is first cut into ink blobs (a QR code's timing patterns keep it one
 * connected blob; the quiet zone keeps neighbours apart) and each blob is decoded on its own.
 * When that finds nothing (a photo, a crop, a cluttered background) the whole image is decoded,
 * the code found is blanked out, and the search repeats.
 */
export function decodeQrCodes(image: RgbaImage): string[] {
  const { width, height } = image;
  const data = new Uint8ClampedArray(image.data);
  const found: string[] = [];
  const decodedSides: number[] = [];
  const failed: Box[] = [];
  for (const blob of inkBlobs(width, height, data).slice(0, MAX_CANDIDATES)) {
    const box = grow(blob, width, height);
    // Only square blobs can be codes worth the slower resampled retries; text lines are not.
    const hit = decodeRegion(width, height, data, box, aspect(blob) <= 1.5 ? UPSCALE_RETRIES : [1]);
    if (hit === undefined) failed.push(blob);
    else {
      found.push(hit);
      decodedSides.push(side(blob));
      blank(width, height, data, box);
    }
  }
  // A code-sized square blob that did not decode gets a second chance on the whole image, where
  // the codes already read are blanked out so jsQR sees one code at a time.
  const smallest = Math.min(...decodedSides);
  const suspicious = failed.some((b) => side(b) >= smallest * 0.5 && aspect(b) <= 1.5);
  if (found.length === 0 || suspicious) found.push(...repeatAndMask(width, height, data));
  return [...new Set(found)];
}

/** jsQR on the whole image; each code found is blanked out and the search repeats. */
function repeatAndMask(width: number, height: number, data: Uint8ClampedArray): string[] {
  const found: string[] = [];
  for (let pass = 0; pass < MAX_WHOLE_IMAGE_PASSES; pass++) {
    const r = jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
    if (r === null) break;
    found.push(r.data);
    const l = r.location;
    const xs = [l.topLeftCorner.x, l.topRightCorner.x, l.bottomLeftCorner.x, l.bottomRightCorner.x];
    const ys = [l.topLeftCorner.y, l.topRightCorner.y, l.bottomLeftCorner.y, l.bottomRightCorner.y];
    const pad = Math.ceil((Math.max(...xs) - Math.min(...xs)) / (17 + 4 * r.version)) * 2;
    blank(width, height, data, {
      x0: Math.min(...xs) - pad,
      y0: Math.min(...ys) - pad,
      x1: Math.max(...xs) + pad,
      y1: Math.max(...ys) + pad,
    });
  }
  return found;
}

function side(b: Box): number {
  return Math.max(b.x1 - b.x0, b.y1 - b.y0);
}

function aspect(b: Box): number {
  return side(b) / Math.max(1, Math.min(b.x1 - b.x0, b.y1 - b.y0));
}

function decodeRegion(
  width: number,
  height: number,
  data: Uint8ClampedArray,
  box: Box,
  factors: readonly number[],
): string | undefined {
  const w = box.x1 - box.x0;
  const h = box.y1 - box.y0;
  const crop = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    const from = ((box.y0 + y) * width + box.x0) * 4;
    crop.set(data.subarray(from, from + w * 4), y * w * 4);
  }
  for (const factor of factors) {
    if (factor !== 1 && w * h * factor * factor > MAX_RESAMPLED_PIXELS) continue;
    const img = factor === 1 ? { data: crop, width: w, height: h } : resample(crop, w, h, factor);
    const hit = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
    if (hit !== null) return hit.data;
  }
  return undefined;
}

/** Bilinear resampling of an RGBA image by `factor`. */
function resample(
  src: Uint8ClampedArray,
  w: number,
  h: number,
  factor: number,
): RgbaImage & { data: Uint8ClampedArray } {
  const width = Math.round(w * factor);
  const height = Math.round(h * factor);
  const out = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(Math.max(0, (y + 0.5) / factor - 0.5), h - 1);
    const y0 = Math.min(Math.floor(sy), h - 2);
    const fy = sy - y0;
    for (let x = 0; x < width; x++) {
      const sx = Math.min(Math.max(0, (x + 0.5) / factor - 0.5), w - 1);
      const x0 = Math.min(Math.floor(sx), w - 2);
      const fx = sx - x0;
      const a = (y0 * w + x0) * 4;
      const b = a + 4;
      const c = a + w * 4;
      const d = c + 4;
      for (let k = 0; k < 4; k++)
        out[(y * width + x) * 4 + k] =
          (src[a + k] ?? 0) * (1 - fx) * (1 - fy) +
          (src[b + k] ?? 0) * fx * (1 - fy) +
          (src[c + k] ?? 0) * (1 - fx) * fy +
          (src[d + k] ?? 0) * fx * fy;
    }
  }
  return { data: out, width, height };
}

/**
 * Bounding boxes of connected dark areas, largest first. The image is reduced to cells of
 * about 1/200 of its shorter side; a cell is dark when any pixel in it is darker than the
 * Otsu threshold, and dark cells one cell apart are joined.
 */
function inkBlobs(width: number, height: number, data: Uint8ClampedArray): Box[] {
  const cell = Math.max(2, Math.round(Math.min(width, height) / 200));
  const cw = Math.ceil(width / cell);
  const ch = Math.ceil(height / cell);
  const threshold = otsu(data);
  const ink = new Uint8Array(cw * ch);
  for (let y = 0; y < height; y++) {
    const row = Math.floor(y / cell) * cw;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      if (luminance(data, i) < threshold) ink[row + Math.floor(x / cell)] = 1;
    }
  }
  const label = new Int32Array(cw * ch);
  const boxes: (Box & { area: number })[] = [];
  const stack: number[] = [];
  for (let start = 0; start < ink.length; start++) {
    if (ink[start] === 0 || label[start] !== 0) continue;
    const id = boxes.length + 1;
    const b = { x0: cw, y0: ch, x1: 0, y1: 0, area: 0 };
    label[start] = id;
    stack.push(start);
    while (stack.length > 0) {
      const p = stack.pop() ?? 0;
      const px = p % cw;
      const py = (p - px) / cw;
      b.x0 = Math.min(b.x0, px);
      b.x1 = Math.max(b.x1, px);
      b.y0 = Math.min(b.y0, py);
      b.y1 = Math.max(b.y1, py);
      b.area++;
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          const nx = px + dx;
          const ny = py + dy;
          if (nx < 0 || ny < 0 || nx >= cw || ny >= ch) continue;
          const q = ny * cw + nx;
          if (ink[q] === 1 && label[q] === 0) {
            label[q] = id;
            stack.push(q);
          }
        }
    }
    boxes.push(b);
  }
  const minSide = Math.max(21, Math.round(Math.min(width, height) / 40));
  return boxes
    .map((b) => ({
      x0: b.x0 * cell,
      y0: b.y0 * cell,
      x1: Math.min(width, (b.x1 + 1) * cell),
      y1: Math.min(height, (b.y1 + 1) * cell),
      area: b.area,
    }))
    .filter((b) => b.x1 - b.x0 >= minSide && b.y1 - b.y0 >= minSide)
    .filter((b) => aspect(b) <= 3)
    .sort((a, b) => b.area - a.area);
}

/** Adds room for the quiet zone around a blob so jsQR sees the whole code. */
function grow(b: Box, width: number, height: number): Box {
  const m = Math.round(Math.max(b.x1 - b.x0, b.y1 - b.y0) * 0.08) + 4;
  return {
    x0: Math.max(0, b.x0 - m),
    y0: Math.max(0, b.y0 - m),
    x1: Math.min(width, b.x1 + m),
    y1: Math.min(height, b.y1 + m),
  };
}

function blank(width: number, height: number, data: Uint8ClampedArray, b: Box): void {
  const x0 = Math.max(0, Math.floor(b.x0));
  const x1 = Math.min(width, Math.ceil(b.x1));
  for (let y = Math.max(0, Math.floor(b.y0)); y < Math.min(height, Math.ceil(b.y1)); y++)
    data.fill(255, (y * width + x0) * 4, (y * width + x1) * 4);
}

function luminance(data: Uint8ClampedArray, i: number): number {
  return ((data[i] ?? 0) * 77 + (data[i + 1] ?? 0) * 150 + (data[i + 2] ?? 0) * 29) >> 8;
}

/** Otsu's threshold over the luminance histogram (sampled): separates ink from paper. */
function otsu(data: Uint8ClampedArray): number {
  const hist = new Float64Array(256);
  const step = Math.max(1, Math.floor(data.length / 4 / 250_000)) * 4;
  let n = 0;
  for (let i = 0; i < data.length; i += step) {
    hist[luminance(data, i)] = (hist[luminance(data, i)] ?? 0) + 1;
    n++;
  }
  let sum = 0;
  for (let t = 0; t < 256; t++) sum += t * (hist[t] ?? 0);
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let threshold = 128;
  for (let t = 0; t < 256; t++) {
    wB += hist[t] ?? 0;
    if (wB === 0 || wB === n) continue;
    sumB += t * (hist[t] ?? 0);
    const mB = sumB / wB;
    const mF = (sum - sumB) / (n - wB);
    const between = wB * (n - wB) * (mB - mF) ** 2;
    if (between > best) {
      best = between;
      threshold = t + 1;
    }
  }
  return threshold;
}
