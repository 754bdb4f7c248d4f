import type { JsonValue } from '../core/json.ts';
import { compileRule, type EncryptionRule } from './rules.ts';

/**
 * JSON pointers of the leaves of a decrypted tree that SOPS does not protect: values its rule
 * leaves in clear (their keys are outside the MAC, so they can be renamed) and empty strings
 * (never encrypted and outside the MAC, so they can be added). Comments are not leaves here.
 */
export function unprotectedLeaves(tree: JsonValue, rule: EncryptionRule): { pointer: string; why: string }[] {
  const encrypted = compileRule(rule);
  const out: { pointer: string; why: string }[] = [];
  const visit = (value: JsonValue, keys: readonly string[], pointer: string): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => {
        visit(v, keys, `${pointer}/${String(i)}`);
      });
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value))
        visit(v, [...keys, k], `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    } else if (!encrypted(keys)) {
      out.push({ pointer, why: 'is left unencrypted by the SOPS rule, so its key is not covered by the MAC' });
    } else if (value === '') {
      out.push({ pointer, why: 'is empty: SOPS neither encrypts nor authenticates empty values (remove the key)' });
    }
  };
  visit(tree, [], '');
  return out;
}
