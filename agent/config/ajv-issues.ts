import type { ErrorObject } from 'ajv';
import type { ConfigIssue } from '../core/result.ts';

type SchemaNode = Record<string, unknown>;

const FORMAT_WORDS: Record<string, string> = {
  hostname: 'a host name',
  email: 'an e-mail address',
  uri: 'an absolute URI',
  ipv4: 'an IPv4 address',
};

/**
 * Turns ajv errors (allErrors, verbose) into issues a person can act on: the JSON pointer of
 * the offending key or value and a short reason ("unknown key 'foo'", "missing required key
 * 'domain'", "must be a string (found a number)"). Values are never quoted: they may be secret.
 */
export function ajvErrorsToIssues(errors: readonly ErrorObject[], file: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const issue of convert(errors, file)) {
    const key = `${issue.path}\n${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

function convert(errors: readonly ErrorObject[], file: string): ConfigIssue[] {
  const consumed = new Set<ErrorObject>();
  const out: ConfigIssue[] = [];
  // An anyOf failure arrives with the failures of every branch; report the branch that fits the
  // value's JSON type, or one summary when none or several fit.
  for (const c of errors) {
    if ((c.keyword !== 'anyOf' && c.keyword !== 'oneOf') || consumed.has(c)) continue;
    const prefix = `${c.schemaPath}/`;
    const inner = errors.filter(
      (e) =>
        e !== c &&
        e.schemaPath.startsWith(prefix) &&
        (e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`)),
    );
    for (const e of inner) consumed.add(e);
    consumed.add(c);
    const branches = Array.isArray(c.schema) ? (c.schema as SchemaNode[]) : [];
    const found = jsonType(c.data);
    const fitting = branches.map((b, i) => ({ b, i })).filter(({ b }) => typeAccepts(b['type'], found));
    const only = fitting.length === 1 ? fitting[0] : undefined;
    const sub = only === undefined ? [] : inner.filter((e) => e.schemaPath.startsWith(`${prefix}${only.i}/`));
    if (sub.length > 0) out.push(...convert(sub, file));
    else
      out.push({
        file,
        path: c.instancePath,
        message: `must be ${expected(c.parentSchema) ?? 'one of the allowed forms'}`,
      });
  }
  for (const e of errors) {
    if (consumed.has(e) || e.keyword === 'propertyNames' || e.keyword === 'if') continue;
    out.push(one(e, file));
  }
  return out;
}

function one(e: ErrorObject, file: string): ConfigIssue {
  const params = e.params as Record<string, unknown>;
  const parent = e.parentSchema as SchemaNode | undefined;
  const x = expected(parent);
  if (e.propertyName !== undefined) {
    const why = x === undefined ? (e.message ?? 'is not allowed') : `must be ${x}`;
    return {
      file,
      path: child(e.instancePath, e.propertyName),
      message: `invalid key name '${e.propertyName}': ${why}`,
    };
  }
  switch (e.keyword) {
    case 'required':
      return { file, path: e.instancePath, message: `missing required key '${String(params['missingProperty'])}'` };
    case 'dependentRequired':
      return {
        file,
        path: e.instancePath,
        message: `missing required key '${String(params['missingProperty'])}' (needed together with '${String(params['property'])}')`,
      };
    case 'additionalProperties': {
      const key = String(params['additionalProperty']);
      const known = Object.keys((parent?.['properties'] as SchemaNode | undefined) ?? {});
      const hint = closest(key, known);
      return {
        file,
        path: child(e.instancePath, key),
        message: `unknown key '${key}'${hint === undefined ? '' : ` (did you mean '${hint}'?)`}`,
      };
    }
    case 'type':
      return {
        file,
        path: e.instancePath,
        message: `must be ${typeWords(params['type'])} (found ${article(jsonType(e.data))})`,
      };
    case 'enum':
      return {
        file,
        path: e.instancePath,
        message: `must be one of: ${(params['allowedValues'] as unknown[]).map(String).join(', ')}`,
      };
    case 'pattern':
    case 'format':
    case 'const':
    case 'minProperties':
    case 'maxProperties':
      if (x !== undefined) return { file, path: e.instancePath, message: `must be ${x}` };
      if (e.keyword === 'format') {
        const f = String(params['format']);
        return { file, path: e.instancePath, message: `must be ${FORMAT_WORDS[f] ?? `a valid ${f}`}` };
      }
      if (e.keyword === 'minProperties')
        return { file, path: e.instancePath, message: `must have at least ${String(params['limit'])} key(s)` };
      if (e.keyword === 'maxProperties')
        return { file, path: e.instancePath, message: `must have at most ${String(params['limit'])} key(s)` };
      return { file, path: e.instancePath, message: e.message ?? 'is invalid' };
    case 'minLength':
      return { file, path: e.instancePath, message: `must be at least ${String(params['limit'])} characters long` };
    case 'maxLength':
      return { file, path: e.instancePath, message: `must be at most ${String(params['limit'])} characters long` };
    case 'minItems':
      return { file, path: e.instancePath, message: `must have at least ${String(params['limit'])} item(s)` };
    case 'maxItems':
      return { file, path: e.instancePath, message: `must have at most ${String(params['limit'])} item(s)` };
    case 'uniqueItems':
      return {
        file,
        path: e.instancePath,
        message: `must not repeat an item (items ${String(params['j'])} and ${String(params['i'])} are equal)`,
      };
    default:
      return { file, path: e.instancePath, message: e.message ?? `fails ${e.keyword}` };
  }
}

function expected(schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object') return undefined;
  const x = (schema as SchemaNode)['x-expected'];
  return typeof x === 'string' ? x : undefined;
}

function child(path: string, key: string): string {
  return `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeAccepts(type: unknown, found: string): boolean {
  const types = Array.isArray(type) ? (type as string[]) : typeof type === 'string' ? [type] : [];
  return types.includes(found) || (found === 'integer' && types.includes('number'));
}

const WORDS: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

function typeWords(type: unknown): string {
  const types = Array.isArray(type) ? (type as string[]) : String(type).split(',');
  const words = types.map((t) => WORDS[t] ?? t);
  return words.length <= 1 ? (words[0] ?? 'valid') : `${words.slice(0, -1).join(', ')} or ${words.at(-1) ?? ''}`;
}

function article(type: string): string {
  if (type === 'boolean') return 'a boolean';
  if (type === 'null') return 'null';
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(key.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}
