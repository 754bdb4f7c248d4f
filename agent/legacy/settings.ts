import { isSecretKey } from '../lib/secrets.ts';

/** Settings the ECS code treats as secrets although their names do not say so. */
const SECRET_NAMES = new Set([
  'SECRET_KEY',
  'REGISTRATION_SECRET',
  'PASSWORD_RESET_SECRET',
  'SENTRY_DSN',
  'EMAIL_HOST_PASSWORD',
]);

export interface LegacySettings {
  settings: Record<string, string | number | boolean>;
  secrets: Record<string, string>;
  /** Lines that are not a simple `NAME = literal`, with why; never the value of a secret. */
  skipped: { line: number; name?: string; note: string }[];
}

/**
 * Reads the `ecs:settings` Python snippet of an old env.yml: simple assignments of string,
 * number and boolean literals become app settings (secret names go to secrets); everything
 * else (expressions, lists, item assignments) is listed in `skipped` for a person to redo.
 */
export function parseLegacySettings(source: string): LegacySettings {
  const out: LegacySettings = { settings: {}, secrets: {}, skipped: [] };
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let stmt = (lines[i] ?? '').trim();
    // A statement with open brackets continues on the next lines.
    while (unbalanced(stmt) && i + 1 < lines.length) stmt += ` ${(lines[++i] ?? '').trim()}`;
    if (stmt === '' || stmt.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+)$/.exec(stmt);
    if (m === null) {
      const target = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(stmt)?.[1];
      out.skipped.push({
        line: start,
        ...(target === undefined ? {} : { name: target }),
        note: `not a simple assignment${secretName(target) ? '' : `: ${stmt}`}`,
      });
      continue;
    }
    const name = m[1] as string;
    const value = literal(stripComment(m[2] as string));
    const secret = secretName(name);
    if (value === undefined) {
      out.skipped.push({
        line: start,
        name,
        note: `value is an expression, not a literal${secret ? '' : `: ${stmt}`}`,
      });
    } else if (secret) {
      out.secrets[name] = String(value);
    } else {
      out.settings[name] = value;
    }
  }
  return out;
}

function secretName(name: string | undefined): boolean {
  return name !== undefined && (SECRET_NAMES.has(name) || isSecretKey(name));
}

function literal(text: string): string | number | boolean | undefined {
  const t = text.trim();
  if (t === 'True') return true;
  if (t === 'False') return false;
  if (/^-?[0-9]+$/.test(t)) return Number(t);
  if (/^-?[0-9]*\.[0-9]+$/.test(t)) return Number(t);
  const q = /^[rRuU]?(['"])(.*)\1$/.exec(t);
  if (q === null) return undefined;
  const body = q[2] as string;
  // A quote of the same kind inside means concatenation or an escape we do not interpret.
  if (body.includes(q[1] as string) && !body.includes(`\\${q[1] as string}`)) return undefined;
  return t.startsWith('r') || t.startsWith('R') ? body : body.replace(/\\(['"\\])/g, '$1');
}

function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#') return text.slice(0, i);
  }
  return text;
}

function unbalanced(stmt: string): boolean {
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < stmt.length; i++) {
    const c = stmt[i];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '#') break;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
  }
  return depth > 0;
}
