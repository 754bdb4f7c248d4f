import { createHash } from 'node:crypto';
import type { EnvConfig } from '../core/config-types.gen.ts';
import type { JsonValue } from '../core/json.ts';
import { fillDefaults, SCHEMAS } from './schemas.ts';
import { collectSecretPaths } from './schema-walk.ts';

const ENC = /^ENC\[AES256_GCM,data:([^,]*),iv:[^,]+,tag:[^,]+,type:(str|int|float|bool|bytes|time)\]$/;

/**
 * An env.yml tree for review without any key: every `ENC[…]` value becomes a placeholder
 * derived from its ciphertext, typed as SOPS recorded it, and the schema's defaults are filled
 * in. SOPS (and this project's encrypt) keeps the ciphertext of an unchanged value, so two
 * revisions give the same placeholder exactly when the value was not edited. Only for
 * predicting which containers change: a placeholder is never a real value.
 */
export function keylessEnv(encryptedTree: JsonValue): { env: EnvConfig; secretPaths: string[] } {
  const tree = placeholders(encryptedTree, false);
  fillDefaults('env', tree);
  return { env: tree as unknown as EnvConfig, secretPaths: collectSecretPaths(SCHEMAS.env, tree) };
}

function placeholders(node: JsonValue, asText: boolean): JsonValue {
  if (Array.isArray(node)) return node.map((n) => placeholders(n, asText));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, JsonValue> = {};
    // App settings and secrets reach containers as text: a text placeholder shows any change.
    for (const [k, v] of Object.entries(node)) out[k] = placeholders(v, asText || k === 'settings' || k === 'secrets');
    return out;
  }
  if (typeof node !== 'string') return node;
  const m = ENC.exec(node);
  if (m === null) return node;
  const hash = createHash('sha256')
    .update(m[1] ?? '')
    .digest('hex');
  const type = m[2];
  if (!asText && (type === 'int' || type === 'float')) return parseInt(hash.slice(0, 6), 16);
  if (!asText && type === 'bool') return false;
  return `(encrypted ${hash.slice(0, 8)})`;
}
