import { LineCounter, isAlias, isScalar, parseAllDocuments, visit } from 'yaml';
import type { JsonValue } from '../core/json.ts';
import { fail, ok, type ConfigIssue, type ConfigResult } from '../core/result.ts';

/** Largest config file the loader reads (decrypted input is capped too). */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface ParseYamlOptions {
  maxBytes?: number;
  /** YAML 1.2 (default) for repository files; 1.1 for legacy files written for PyYAML. */
  version?: '1.1' | '1.2';
}

/**
 * Parses one YAML document strictly: duplicate keys, aliases, custom tags, non-scalar keys and
 * several documents are errors, each with its line and column. Messages never quote the
 * file's content, because env.yml holds secrets.
 */
export function parseYaml(text: string, file: string, options: ParseYamlOptions = {}): ConfigResult<JsonValue> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (new TextEncoder().encode(text).length > maxBytes) {
    return fail({ file, path: '', message: `file is larger than the limit of ${maxBytes} bytes` });
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
    version: options.version ?? '1.2',
  });
  const list = Array.isArray(docs) ? docs : [];
  if (list.length === 0) return fail({ file, path: '', message: 'file is empty' });
  if (list.length > 1) {
    return fail({ file, path: '', message: `file must hold one YAML document, found ${list.length}` });
  }
  const doc = list[0];
  if (doc === undefined) return fail({ file, path: '', message: 'file is empty' });
  const at = (offset: number | undefined): string => {
    if (offset === undefined) return '';
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}: `;
  };
  const errors: ConfigIssue[] = [];
  for (const e of [...doc.errors, ...doc.warnings]) {
    errors.push({ file, path: '', message: `YAML ${at(e.pos[0])}${e.message}` });
  }
  if (errors.length === 0) {
    visit(doc, {
      Alias(_, node) {
        errors.push({ file, path: '', message: `YAML ${at(node.range?.[0])}aliases (*name) are not allowed` });
      },
      Pair(_, pair) {
        if (pair.key !== null && !isScalar(pair.key) && !isAlias(pair.key)) {
          const range = (pair.key as { range?: [number, number, number] }).range;
          errors.push({ file, path: '', message: `YAML ${at(range?.[0])}keys must be plain scalars` });
        }
      },
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  const value = doc.toJS({ maxAliasCount: 0 }) as JsonValue | undefined;
  if (value === undefined || value === null) return fail({ file, path: '', message: 'file is empty' });
  return ok(value);
}

/** Parses a file that must be a YAML mapping at the top. */
export function parseYamlObject(
  text: string,
  file: string,
  options: ParseYamlOptions = {},
): ConfigResult<Record<string, JsonValue>> {
  const r = parseYaml(text, file, options);
  if (!r.ok) return r;
  const v = r.value;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return fail({ file, path: '', message: 'file must be a YAML mapping (key: value) at the top level' });
  }
  return ok(v);
}
