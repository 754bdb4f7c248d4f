import type { JsonObject, JsonValue } from '../core/json.ts';
import type { ConfigIssue } from '../core/result.ts';

const ENC = /^ENC\[AES256_GCM,data:[^,]*,iv:[^,]+,tag:[^,]+,type:(str|int|float|bool|bytes|time)\]$/;

/**
 * Checks, without any key, that a parsed env.yml is a SOPS file: a `sops` metadata block with
 * a MAC and at least one recipient, and every value that the file's encryption rule says is
 * encrypted really is `ENC[…]` (a plaintext value pasted into an encrypted file would
 * otherwise reach git unnoticed). Returns the issues and the data tree without `sops`.
 */
export function checkSopsShape(doc: JsonObject, file: string): { issues: ConfigIssue[]; tree: JsonObject } {
  const { sops, ...tree } = doc;
  const issues: ConfigIssue[] = [];
  if (sops === undefined || sops === null || typeof sops !== 'object' || Array.isArray(sops)) {
    issues.push({ file, path: '', message: "not SOPS-encrypted: there is no 'sops' metadata block" });
    return { issues, tree };
  }
  if (typeof sops['mac'] !== 'string' || !ENC.test(sops['mac'])) {
    issues.push({ file, path: '/sops/mac', message: 'SOPS metadata has no valid MAC' });
  }
  const hasRecipients = ['age', 'pgp', 'key_groups'].some((k) => {
    const v = sops[k];
    return Array.isArray(v) && v.length > 0;
  });
  if (!hasRecipients) issues.push({ file, path: '/sops', message: 'SOPS metadata lists no age or PGP recipients' });
  const rule = encryptionRule(sops);
  if (typeof rule === 'string') {
    issues.push({ file, path: '/sops', message: rule });
  } else if (rule !== undefined) {
    walk(tree, [], '', rule, (path) => {
      issues.push({ file, path, message: 'value is not encrypted (plaintext in a SOPS file; re-encrypt the file)' });
    });
  }
  return { issues, tree };
}

type Rule = (keys: readonly string[]) => boolean;

/** The file's "is this value encrypted" rule; undefined when it depends on comments (not checked). */
function encryptionRule(sops: JsonObject): Rule | string | undefined {
  const str = (k: string): string | undefined => (typeof sops[k] === 'string' ? sops[k] : undefined);
  if (str('unencrypted_comment_regex') !== undefined || str('encrypted_comment_regex') !== undefined) return undefined;
  const regex = (k: string): RegExp | string | undefined => {
    const src = str(k);
    if (src === undefined) return undefined;
    try {
      return new RegExp(src);
    } catch {
      return `SOPS metadata ${k} is not a valid regular expression`;
    }
  };
  const encryptedRegex = regex('encrypted_regex');
  if (typeof encryptedRegex === 'string') return encryptedRegex;
  if (encryptedRegex !== undefined) return (keys) => keys.some((k) => encryptedRegex.test(k));
  const unencryptedRegex = regex('unencrypted_regex');
  if (typeof unencryptedRegex === 'string') return unencryptedRegex;
  if (unencryptedRegex !== undefined) return (keys) => !keys.some((k) => unencryptedRegex.test(k));
  const encSuffix = str('encrypted_suffix');
  if (encSuffix !== undefined) return (keys) => keys.some((k) => k.endsWith(encSuffix));
  const suffix = str('unencrypted_suffix') ?? '_unencrypted';
  return (keys) => !keys.some((k) => k.endsWith(suffix));
}

function walk(v: JsonValue, keys: string[], path: string, rule: Rule, report: (path: string) => void): void {
  if (Array.isArray(v)) {
    // SOPS gives list items the path of the key that owns the list.
    v.forEach((item, i) => {
      walk(item, keys, `${path}/${i}`, rule, report);
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      walk(x, [...keys, k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, rule, report);
    }
  } else if (v !== null && v !== '' && rule(keys) && !(typeof v === 'string' && ENC.test(v))) {
    report(path);
  }
}
