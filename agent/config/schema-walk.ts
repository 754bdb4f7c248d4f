import type { JsonObject, JsonValue } from '../core/json.ts';

/**
 * JSON pointers of the values in `data` that `schema` marks `x-secret: true`, in document
 * order. Follows properties, additionalProperties, items, local `$ref`s and combinators.
 */
export function collectSecretPaths(schema: JsonObject, data: JsonValue): string[] {
  const found = new Set<string>();
  walk(schema, schema, data, '', found, 0);
  return [...found];
}

function walk(
  root: JsonObject,
  node: JsonValue | undefined,
  data: JsonValue,
  path: string,
  found: Set<string>,
  depth: number,
): void {
  if (depth > 64 || node === undefined || node === null || typeof node !== 'object' || Array.isArray(node)) return;
  const ref = node['$ref'];
  if (typeof ref === 'string' && ref.startsWith('#/')) walk(root, resolve(root, ref), data, path, found, depth + 1);
  for (const k of ['anyOf', 'oneOf', 'allOf']) {
    const branches = node[k];
    if (Array.isArray(branches)) for (const b of branches) walk(root, b, data, path, found, depth + 1);
  }
  if (node['x-secret'] === true && data !== null && typeof data !== 'object') found.add(path);
  if (Array.isArray(data)) {
    data.forEach((item, i) => {
      walk(root, node['items'], item, `${path}/${i}`, found, depth + 1);
    });
  } else if (data !== null && typeof data === 'object') {
    const props = node['properties'];
    for (const [k, v] of Object.entries(data)) {
      const sub =
        props !== null && typeof props === 'object' && !Array.isArray(props) && k in props
          ? props[k]
          : node['additionalProperties'];
      walk(root, sub, v, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, found, depth + 1);
    }
  }
}

function resolve(root: JsonObject, ref: string): JsonValue | undefined {
  let cur: JsonValue | undefined = root;
  for (const part of ref.slice(2).split('/')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/**
 * `data` with the keys of every object in the order of the schema's `properties` (keys the
 * schema does not list keep their order, after the listed ones), so that two files that differ
 * only in key order normalize to the same document.
 */
export function orderLikeSchema(schema: JsonObject, data: JsonValue): JsonValue {
  return order(schema, schema, data, 0);
}

function order(root: JsonObject, node: JsonValue | undefined, data: JsonValue, depth: number): JsonValue {
  if (node !== undefined && node !== null && typeof node === 'object' && !Array.isArray(node)) {
    const ref = node['$ref'];
    if (typeof ref === 'string' && ref.startsWith('#/') && depth < 64) node = resolve(root, ref);
  }
  const schema = node !== undefined && node !== null && typeof node === 'object' && !Array.isArray(node) ? node : {};
  if (Array.isArray(data)) return data.map((item) => order(root, schema['items'], item, depth + 1));
  if (data === null || typeof data !== 'object') return data;
  const props = schema['properties'];
  const listed = props !== null && typeof props === 'object' && !Array.isArray(props) ? props : {};
  const out: JsonObject = {};
  for (const k of Object.keys(listed)) {
    const v = data[k];
    if (v !== undefined) out[k] = order(root, listed[k], v, depth + 1);
  }
  for (const [k, v] of Object.entries(data)) {
    if (!(k in listed)) out[k] = order(root, schema['additionalProperties'], v, depth + 1);
  }
  return out;
}
