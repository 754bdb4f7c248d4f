import type { JsonObject } from '../core/json.ts';
import { applianceFile, envFile, type RepoReader } from './load.ts';
import { parseYamlObject } from './parse-yaml.ts';

/**
 * Whether a change from `from` to `to` touches appliance `name`: its appliance.yml or env.yml
 * differ, or the app definition either side names does.
 */
export async function touchesAppliance(from: RepoReader, to: RepoReader, name: string): Promise<boolean> {
  const files = [applianceFile(name), envFile(name)];
  for (const f of files) if ((await from.readFile(f)) !== (await to.readFile(f))) return true;
  const apps = new Set([await appPathOf(from, name), await appPathOf(to, name)]);
  for (const app of apps) if (app !== undefined && (await from.readFile(app)) !== (await to.readFile(app))) return true;
  return false;
}

/** The app definition appliance.yml names, when it can be read. */
export async function appPathOf(reader: RepoReader, name: string): Promise<string | undefined> {
  const doc = await yamlAt(reader, applianceFile(name));
  const app = doc?.['app'];
  return typeof app === 'string' ? app : undefined;
}

/** A YAML mapping file at a revision; undefined when it is missing or does not parse. */
export async function yamlAt(reader: RepoReader, file: string): Promise<JsonObject | undefined> {
  const text = await reader.readFile(file).catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = parseYamlObject(text, file);
  return parsed.ok ? parsed.value : undefined;
}
