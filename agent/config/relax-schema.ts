import type { JsonObject, JsonValue } from '../core/json.ts';

const SCALAR_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const SCALAR_KEYWORDS = new Set([
  'enum',
  'const',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'default',
]);

/**
 * A copy of `schema` in which every scalar position accepts any scalar (types, patterns,
 * formats and enums of scalars dropped) while objects and lists keep their keys, required keys
 * and item shapes. Key-name rules (`propertyNames`) are kept as they are: SOPS never encrypts
 * keys.
 */
export function relaxLeaves(schema: JsonObject): JsonObject {
  return relax(schema) as JsonObject;
}

function relax(node: JsonValue): JsonValue {
  if (Array.isArray(node)) return node.map(relax);
  if (node === null || typeof node !== 'object') return node;
  const type = node['type'];
  const types = Array.isArray(type) ? type : type === undefined ? [] : [type];
  const scalar = types.length > 0 && types.every((t) => typeof t === 'string' && SCALAR_TYPES.has(t));
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(node)) {
    if ((scalar && k === 'type') || (scalar && SCALAR_KEYWORDS.has(k))) continue;
    if (k === 'propertyNames') out[k] = v;
    else if (k === 'properties' || k === '$defs') {
      const props: JsonObject = {};
      for (const [name, sub] of Object.entries(v as JsonObject)) props[name] = relax(sub);
      out[k] = props;
    } else out[k] = relax(v);
  }
  return out;
}
