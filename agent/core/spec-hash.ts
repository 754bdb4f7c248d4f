// Hashing is the one node: module core may use: pure, synchronous, and the same on every machine.
import { createHash, createHmac } from 'node:crypto';

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortDeep(value));
}

/** Hex SHA-256 of the canonical JSON of a value. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * Digest standing in for a secret value in a spec: HMAC-SHA256 keyed with the appliance's spec
 * key over the value's name and the value. It changes when the secret changes, and without the
 * key it cannot be used to test guesses of a (possibly short) secret.
 */
export function secretDigest(specKey: string, name: string, value: string): string {
  return `hmac-sha256:${createHmac('sha256', specKey).update(`${name}\u0000${value}`).digest('hex')}`;
}

function sortDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortDeep);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortDeep(v);
    }
    return out;
  }
  return value;
}
