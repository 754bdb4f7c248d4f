import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { DecryptEnv, RepoReader } from '../../agent/config/load.ts';
import type { JsonObject } from '../../agent/core/json.ts';

export const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Every file of a fixture directory, by repository-relative path. */
export async function readTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(relative(dir, p), await readFile(p, 'utf8'));
    }
  };
  await walk(dir);
  return out;
}

/** Files of test/fixtures/repos/<name>. */
export function fixtureRepo(name: string): Promise<Map<string, string>> {
  return readTree(join(fixturesDir, 'repos', name));
}

/** A RepoReader over an in-memory file map. */
export function memoryRepo(files: ReadonlyMap<string, string>): RepoReader {
  return {
    readFile: (rel) => Promise.resolve(files.get(rel)),
    listDir: (rel) => {
      const prefix = `${rel}/`;
      const names = new Set<string>();
      for (const f of files.keys()) if (f.startsWith(prefix)) names.add(f.slice(prefix.length).split('/')[0] ?? '');
      return Promise.resolve([...names].sort());
    },
  };
}

/** Stand-in for SOPS in unit tests: the fixture env.yml files are plaintext. */
export const plainDecrypt: DecryptEnv = (text) => {
  const { sops: _ignored, ...rest } = parse(text) as JsonObject;
  return Promise.resolve(rest);
};

/** A copy of `files` with one YAML file changed by `edit`. */
export function editYaml(
  files: ReadonlyMap<string, string>,
  rel: string,
  edit: (doc: Record<string, unknown>) => void,
): Map<string, string> {
  const doc = parse(files.get(rel) ?? '{}') as Record<string, unknown>;
  edit(doc);
  return new Map(files).set(rel, stringify(doc));
}

/** The object at a dotted path of a parsed document, created on the way. */
export function at(doc: Record<string, unknown>, path: string): Record<string, unknown> {
  let cur = doc;
  for (const k of path.split('.')) {
    cur[k] ??= {};
    cur = cur[k] as Record<string, unknown>;
  }
  return cur;
}
