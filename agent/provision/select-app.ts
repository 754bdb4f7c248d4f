import { AgentError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import { checkApp } from '../config/app-rules.ts';
import type { RepoReader } from '../config/load.ts';
import { parseYamlObject } from '../config/parse-yaml.ts';
import { validateDocument } from '../config/schemas.ts';
import type { AppDefinition } from '../core/config-types.gen.ts';

/** An app definition of the config repository, checked. */
export interface LoadedApp {
  /** Repository-relative path, e.g. apps/demo/app.yml. */
  path: string;
  definition: AppDefinition;
}

/**
 * The app definition a new appliance runs: `wanted` (a repository path such as apps/demo/app.yml,
 * or just the app's directory name), or the only one in apps/. Refuses an invalid definition
 * and, without `wanted`, a repository with none or several (listing them).
 */
export async function selectApp(repo: RepoReader, wanted: string | undefined): Promise<LoadedApp> {
  const available = await listApps(repo);
  let path: string;
  if (wanted !== undefined) {
    path = /\.ya?ml$/.test(wanted) ? wanted.replace(/^\.\//, '') : `apps/${wanted}/app.yml`;
  } else if (available.length === 1 && available[0] !== undefined) {
    path = available[0];
  } else {
    throw new AgentError(
      'AppNotChosen',
      available.length === 0
        ? 'the repository has no app definitions (apps/<app>/app.yml)'
        : `the repository has several apps: pass --app with one of ${available.join(', ')}`,
      { terminal: true, data: { apps: available } },
    );
  }
  const text = await repo.readFile(path);
  if (text === undefined)
    throw new AgentError(
      'AppNotFound',
      `${path} does not exist${available.length > 0 ? ` (apps: ${available.join(', ')})` : ''}`,
      { terminal: true },
    );
  const parsed = parseYamlObject(text, path);
  const valid = parsed.ok ? validateDocument('app', parsed.value, path) : parsed;
  const issues = valid.ok ? checkApp(valid.value, path).errors : valid.errors;
  if (!valid.ok || issues.length > 0)
    throw new AgentError('AppInvalid', `${path} is invalid: ${issues.map(formatIssue).join('; ')}`, {
      terminal: true,
      data: { issues },
    });
  return { path, definition: valid.value };
}

/** The app definitions of the repository (apps/<app>/app.yml), in directory order. */
export async function listApps(repo: RepoReader): Promise<string[]> {
  const available: string[] = [];
  for (const dir of await repo.listDir('apps'))
    if ((await repo.readFile(`apps/${dir}/app.yml`)) !== undefined) available.push(`apps/${dir}/app.yml`);
  return available;
}
