import type { ConfigIssue } from '../core/result.ts';
import { checkApp } from './app-rules.ts';
import { createContext, envFile, loadAppliance, type DecryptEnv, type LoadContext, type RepoReader } from './load.ts';
import { parseYamlObject } from './parse-yaml.ts';
import { checkSopsConfig } from './sops-config.ts';
import { validateDocument } from './schemas.ts';

/** Result of checking a whole config repository (or some of its appliances). */
export interface RepoReport {
  ok: boolean;
  /** Appliances checked, with whether env.yml was decrypted. */
  appliances: { name: string; ok: boolean; decrypted: boolean }[];
  /** Every file that was read, sorted. */
  files: string[];
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

const EXPECTED_FILES = new Set(['appliance.yml', 'env.yml', 'README.md']);

/**
 * Checks every file of a config repository: each appliance (or only `names`) with its app,
 * every apps/<app>/app.yml, and .sops.yaml. Without `decrypt`, env.yml is checked as a SOPS
 * file (metadata, encrypted values, keys against the schema). Never stops at the first problem.
 */
export async function validateRepo(
  repo: RepoReader,
  options: { names?: readonly string[]; decrypt?: DecryptEnv; maxBytes?: number; revision?: string } = {},
): Promise<RepoReport> {
  const ctx = createContext(repo, options);
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const files = new Set<string>();
  const all = (await repo.listDir('appliances')).sort();
  const names = options.names ?? all;
  if (options.names === undefined && all.length === 0) {
    errors.push({ file: 'appliances', path: '', message: 'no appliances in this repository' });
  }
  const appliances: RepoReport['appliances'] = [];
  for (const name of names) {
    if (options.names !== undefined && !all.includes(name)) {
      errors.push({ file: `appliances/${name}`, path: '', message: `there is no appliance '${name}'` });
      appliances.push({ name, ok: false, decrypted: false });
      continue;
    }
    const outcome = await loadAppliance(ctx, name, options.revision ?? 'worktree');
    outcome.files.forEach((f) => files.add(f));
    errors.push(...outcome.errors);
    warnings.push(...outcome.warnings);
    for (const entry of await repo.listDir(`appliances/${name}`)) {
      if (EXPECTED_FILES.has(entry)) continue;
      const file = `appliances/${name}/${entry}`;
      if (/plain|decrypted|\.dec\./i.test(entry)) {
        errors.push({ file, path: '', message: 'looks like a plaintext secrets file: it must not be committed' });
      } else warnings.push({ file, path: '', message: 'unexpected file in an appliance directory' });
    }
    appliances.push({ name, ok: outcome.errors.length === 0, decrypted: outcome.decrypted });
  }
  if (options.names === undefined) {
    for (const dir of (await repo.listDir('apps')).sort()) {
      const file = `apps/${dir}/app.yml`;
      if (ctx.apps.has(file)) continue;
      const text = await repo.readFile(file);
      if (text === undefined) {
        warnings.push({ file: `apps/${dir}`, path: '', message: 'app directory without app.yml' });
        continue;
      }
      files.add(file);
      errors.push(...checkAppFile(ctx, file, text));
    }
  }
  const sops = await checkSopsConfig(repo, names.filter((n) => all.includes(n)).map(envFile));
  if (sops.file) files.add('.sops.yaml');
  errors.push(...sops.errors);
  warnings.push(...sops.warnings);
  const unique = (list: ConfigIssue[]): ConfigIssue[] => {
    const seen = new Set<string>();
    return list
      .filter((i) => {
        const key = `${i.file}\n${i.path}\n${i.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      })
      .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  };
  const errs = unique(errors);
  return { ok: errs.length === 0, appliances, files: [...files].sort(), errors: errs, warnings: unique(warnings) };
}

function checkAppFile(ctx: LoadContext, file: string, text: string): ConfigIssue[] {
  const parsed = parseYamlObject(text, file, { maxBytes: ctx.maxBytes });
  if (!parsed.ok) return parsed.errors;
  const valid = validateDocument('app', parsed.value, file);
  if (!valid.ok) return valid.errors;
  return checkApp(valid.value, file).errors;
}
