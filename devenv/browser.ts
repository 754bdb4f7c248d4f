import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Response } from 'playwright-core';
import { PNG } from 'pngjs';

/** Debian's chromium (test/prereqs.sh installs it): no browser is downloaded. */
export const CHROMIUM = '/usr/bin/chromium';

/** Where tests keep what they want a person to look at later (gitignored). */
export const ARTIFACTS_DIR = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

/** What the browser got for one URL. */
export interface Visit {
  status: number;
  headers: Record<string, string>;
  /** The page's visible text. */
  text: string;
  /** The PNG of the viewport, when one was asked for. */
  screenshot?: Buffer;
  /** Where the screenshot was written, when a name was given. */
  screenshotFile?: string;
}

/**
 * Headless chromium through playwright-core. `hosts` maps names to addresses inside this browser
 * only (like /etc/hosts), so a test can open https://<appliance name>:<port>/ on loopback.
 * Root needs --no-sandbox.
 */
export async function launchBrowser(options: { hosts?: Record<string, string> } = {}): Promise<Browser> {
  const rules = Object.entries(options.hosts ?? {}).map(([name, ip]) => `MAP ${name} ${ip}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', ...(rules.length === 0 ? [] : [`--host-resolver-rules=${rules.join(', ')}`])],
  });
}

/**
 * Opens `url` in a fresh context and reports status, headers and text. With `screenshot`, the
 * viewport is also kept as test-artifacts/<screenshot>.png. `ignoreHTTPSErrors` accepts
 * certificates no root of the browser signs (Caddy's internal CA).
 */
export async function visit(
  browser: Browser,
  url: string,
  options: { ignoreHTTPSErrors?: boolean; screenshot?: string } = {},
): Promise<Visit> {
  const context = await browser.newContext({
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    viewport: { width: 1024, height: 640 },
  });
  try {
    const page = await context.newPage();
    const response = await goto(page, url);
    if (response === null) throw new Error(`${url}: no response`);
    const visit: Visit = {
      status: response.status(),
      headers: response.headers(),
      text: await page.innerText('body'),
    };
    if (options.screenshot !== undefined) {
      await mkdir(ARTIFACTS_DIR, { recursive: true });
      const file = join(ARTIFACTS_DIR, `${options.screenshot}.png`);
      visit.screenshot = await page.screenshot({ path: file });
      visit.screenshotFile = file;
    }
    return visit;
  } finally {
    await context.close();
  }
}

/**
 * Chromium fails a load in flight with ERR_NETWORK_CHANGED when the host's interfaces change
 * (Docker adding or removing a container's veth beside the test): that says nothing of the
 * page, so such a load is tried again, once.
 */
async function goto(page: Page, url: string): Promise<Response | null> {
  try {
    return await page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  } catch (err) {
    if (!String(err).includes('ERR_NETWORK_CHANGED')) throw err;
    return page.goto(url, { waitUntil: 'load', timeout: 30_000 });
  }
}

/** Dark pixels inside a box of a PNG screenshot: text was really painted there. */
export function inkIn(png: Buffer, box: { x: number; y: number; width: number; height: number }): number {
  const image = PNG.sync.read(png);
  let ink = 0;
  for (let y = Math.floor(box.y); y < Math.ceil(box.y + box.height); y++) {
    for (let x = Math.floor(box.x); x < Math.ceil(box.x + box.width); x++) {
      const i = (y * image.width + x) * 4;
      if ((image.data[i] ?? 255) + (image.data[i + 1] ?? 255) + (image.data[i + 2] ?? 255) < 300) ink++;
    }
  }
  return ink;
}

/**
 * Checks that the page at `url` lays out `#reason` with `expected` and that the screenshot has
 * ink where it is (not a blank or error page) and none below it. Returns the reason's box.
 */
export async function reasonIsPainted(
  browser: Browser,
  url: string,
  screenshot: Buffer,
  expected: string,
): Promise<{ box: { x: number; y: number; width: number; height: number }; ink: number; below: number }> {
  const page = await browser.newPage({ ignoreHTTPSErrors: true, viewport: { width: 1024, height: 640 } });
  try {
    await page.goto(url);
    const text = await page.locator('#reason').innerText();
    if (text !== expected) throw new Error(`#reason says ${JSON.stringify(text)}, not ${JSON.stringify(expected)}`);
    const box = await page.locator('#reason').boundingBox();
    if (box === null) throw new Error('#reason is not laid out');
    return { box, ink: inkIn(screenshot, box), below: inkIn(screenshot, { ...box, y: 600, height: 30 }) };
  } finally {
    await page.close();
  }
}
