import type { DesiredValue } from '../core/desired.ts';
import { getPointer } from '../core/desired.ts';
import type { JsonValue } from '../core/json.ts';

/**
 * References from the app definition into env.yml:
 *   settings.NAME → /app/settings/NAME, secrets.NAME → /app/secrets/NAME,
 *   env.a.b → /a/b (any single value of env.yml).
 */
const REF = /^((settings|secrets)\.[A-Za-z_][A-Za-z0-9_]*|env(\.[a-z_][a-z0-9_]*)+)$/;

/** JSON pointer into env.yml for a reference, or undefined when it is not one. */
export function refPointer(ref: string): string | undefined {
  if (!REF.test(ref)) return undefined;
  const [head, ...rest] = ref.split('.');
  if (head === 'settings' || head === 'secrets') return `/app/${head}/${rest.join('.')}`;
  return `/${rest.join('/')}`;
}

/** Splits a template into literal text and `${ref}` placeholders; `$$` is a literal `$`. */
export function parseTemplate(template: string): { parts: ({ text: string } | { ref: string })[] } | { error: string } {
  const parts: ({ text: string } | { ref: string })[] = [];
  let text = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template.charAt(i);
    if (ch !== '$') {
      text += ch;
      continue;
    }
    const next = template[i + 1];
    if (next === '$') {
      text += '$';
      i++;
    } else if (next === '{') {
      const end = template.indexOf('}', i + 2);
      if (end < 0) return { error: "unclosed '${' in template" };
      const ref = template.slice(i + 2, end).trim();
      if (refPointer(ref) === undefined) {
        return { error: `'${ref}' in template is not a reference settings.NAME, secrets.NAME or env.<path>` };
      }
      if (text !== '') parts.push({ text });
      text = '';
      parts.push({ ref });
      i = end;
    } else {
      text += '$';
    }
  }
  if (text !== '') parts.push({ text });
  return { parts };
}

/** All references an environment value uses (none for literals). */
export function valueRefs(v: JsonValue): { refs: string[]; error?: string } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return { refs: [] };
  if (typeof v['from'] === 'string') return { refs: [v['from']] };
  if (typeof v['template'] === 'string') {
    const t = parseTemplate(v['template']);
    if ('error' in t) return { refs: [], error: t.error };
    return { refs: t.parts.flatMap((p) => ('ref' in p ? [p.ref] : [])) };
  }
  return { refs: [] };
}

/**
 * Why a reference cannot be used with this env tree (missing, null, a mapping or list), or
 * undefined when it can. Works on the encrypted tree too: SOPS keeps keys readable.
 */
export function refProblem(ref: string, env: JsonValue): string | undefined {
  const pointer = refPointer(ref);
  if (pointer === undefined) return `'${ref}' is not a reference`;
  const v = getPointer(env, pointer);
  if (v === undefined) return 'is not set';
  if (v === null) return 'is null';
  if (typeof v === 'object') return 'is a mapping or list, not a single value';
  return undefined;
}

/** The value of a checked reference; secret when env.yml marks it (JSON pointer in `secretPaths`). */
export function resolveRef(ref: string, env: JsonValue, secretPaths: ReadonlySet<string>): DesiredValue {
  const pointer = refPointer(ref) ?? '';
  return { value: scalarText(getPointer(env, pointer)), secret: secretPaths.has(pointer) };
}

/** Resolves a literal, `{ from }` or `{ template }` environment value. */
export function resolveValue(v: JsonValue, env: JsonValue, secretPaths: ReadonlySet<string>): DesiredValue {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    if (typeof v['from'] === 'string') return resolveRef(v['from'], env, secretPaths);
    if (typeof v['template'] === 'string') {
      const t = parseTemplate(v['template']);
      if ('error' in t) return { value: '', secret: false };
      let value = '';
      let secret = false;
      for (const p of t.parts) {
        if ('text' in p) value += p.text;
        else {
          const r = resolveRef(p.ref, env, secretPaths);
          value += r.value;
          secret ||= r.secret;
        }
      }
      return { value, secret };
    }
  }
  return { value: scalarText(v), secret: false };
}

/** Environment text of a scalar: booleans as true/false, numbers in JSON form. */
export function scalarText(v: JsonValue | undefined): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return '';
}
