import type { ConfigIssue } from '../core/result.ts';
import type { JsonValue } from '../core/json.ts';
import type { RepoReader } from './load.ts';
import { parseYamlObject } from './parse-yaml.ts';

const FILE = '.sops.yaml';

/**
 * The age recipients of the first .sops.yaml creation rule that applies to `file` (a rule
 * without path_regex applies to every file), as sops picks them; empty when none.
 */
export async function recipientsFromSopsConfig(repo: RepoReader, file: string): Promise<string[]> {
  const text = await repo.readFile(FILE);
  if (text === undefined) return [];
  const parsed = parseYamlObject(text, FILE);
  if (!parsed.ok) return [];
  const rules = parsed.value['creation_rules'];
  for (const rule of Array.isArray(rules) ? rules : []) {
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) continue;
    const src = rule['path_regex'];
    let applies = src === undefined;
    if (typeof src === 'string') {
      try {
        applies = new RegExp(src).test(file);
      } catch {
        applies = false;
      }
    }
    if (applies) return ageList(rule['age']);
  }
  return [];
}

function ageList(v: JsonValue | undefined): string[] {
  const items = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [];
  return items.flatMap((x) => (typeof x === 'string' && x.trim() !== '' ? [x.trim()] : []));
}

/** .sops.yaml: present, with creation rules, and a rule for every env.yml. */
export async function checkSopsConfig(
  repo: RepoReader,
  envFiles: readonly string[],
): Promise<{ file: boolean; errors: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const file = FILE;
  const text = await repo.readFile(file);
  if (text === undefined) {
    return {
      file: false,
      errors: [],
      warnings: [{ file, path: '', message: 'missing: sops cannot choose recipients for new files' }],
    };
  }
  const parsed = parseYamlObject(text, file);
  if (!parsed.ok) return { file: true, errors: parsed.errors, warnings: [] };
  const rules = parsed.value['creation_rules'];
  if (!Array.isArray(rules) || rules.length === 0) {
    return {
      file: true,
      errors: [{ file, path: '/creation_rules', message: 'must be a non-empty list' }],
      warnings: [],
    };
  }
  const patterns: RegExp[] = [];
  const errors: ConfigIssue[] = [];
  rules.forEach((r, i) => {
    const src = r !== null && typeof r === 'object' && !Array.isArray(r) ? r['path_regex'] : undefined;
    if (typeof src !== 'string') return;
    try {
      patterns.push(new RegExp(src));
    } catch {
      errors.push({ file, path: `/creation_rules/${i}/path_regex`, message: 'is not a valid regular expression' });
    }
  });
  const catchAll = rules.some(
    (r) => r !== null && typeof r === 'object' && !Array.isArray(r) && r['path_regex'] === undefined,
  );
  const warnings = catchAll
    ? []
    : envFiles
        .filter((f) => !patterns.some((p) => p.test(f)))
        .map((f) => ({ file, path: '/creation_rules', message: `no creation rule matches ${f}` }));
  return { file: true, errors, warnings };
}
