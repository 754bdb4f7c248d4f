import type { JsonValue } from '../core/json.ts';
import type { ConfigIssue } from '../core/result.ts';
import type { Findings } from './app-rules.ts';
import type { ApplianceDocs } from './appliance-docs.ts';

/** Names the agent gives its own containers beside a service's (an interrupted replace). */
const SUFFIXES = ['', '-next', '-prev'];

/**
 * Rules for appliance.yml `clones` against the app and env.yml: unique names; a clone's
 * container names (`<appliance>-<clone>-<service>`) never equal the appliance's own
 * (`<appliance>-<service>`, with -next/-prev) and a clone is not named like a service; clones need snapshot support (a data or database
 * volume under the data path); a clone setting is an app setting, never one of its secrets.
 */
export function checkClones(d: ApplianceDocs): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const file = d.applianceFile;
  const clones = d.appliance.clones;
  if (clones.length === 0) return { errors, warnings };
  const services = Object.keys(d.app.services);
  const own = new Set(services.flatMap((s) => SUFFIXES.map((x) => `${s}${x}`)));
  const snapshottable = Object.values(d.app.volumes).some((v) => v.kind === 'data' || v.kind === 'database');
  const settings = keysAt(d.envTree, 'settings');
  const secrets = keysAt(d.envTree, 'secrets');
  const cloneDefaults = new Set(Object.keys(d.app.clone.settings));
  const seen = new Set<string>();
  clones.forEach((c, i) => {
    const at = `/clones/${i}`;
    if (seen.has(c.name)) errors.push({ file, path: `${at}/name`, message: `clone '${c.name}' is listed twice` });
    seen.add(c.name);
    if (services.includes(c.name)) {
      errors.push({
        file,
        path: `${at}/name`,
        message: `clone '${c.name}' has the name of a service of the app: name it apart`,
      });
    }
    for (const s of services) {
      if (own.has(`${c.name}-${s}`)) {
        errors.push({
          file,
          path: `${at}/name`,
          message: `clone '${c.name}' would name its ${s} container like the appliance's own '${c.name}-${s}' container`,
        });
      }
    }
    if (!snapshottable) {
      errors.push({
        file,
        path: at,
        message: `clones need snapshot support: app '${d.app.name}' (${d.appFile}) has no data or database volume under the data path to snapshot`,
      });
    }
    for (const key of Object.keys(c.settings)) {
      if (secrets.has(key)) {
        errors.push({
          file,
          path: `${at}/settings/${key}`,
          message: `'${key}' is an app secret in ${d.envFile}: a clone setting is plain text`,
        });
      } else if (!settings.has(key) && !cloneDefaults.has(key)) {
        warnings.push({
          file,
          path: `${at}/settings/${key}`,
          message: `'${key}' is not an app setting in ${d.envFile} nor a clone setting of ${d.appFile}`,
        });
      }
    }
  });
  return { errors, warnings };
}

/** Keys of env.yml's app.settings or app.secrets (readable also while encrypted). */
function keysAt(tree: JsonValue, section: 'settings' | 'secrets'): Set<string> {
  const app = tree !== null && typeof tree === 'object' && !Array.isArray(tree) ? tree['app'] : undefined;
  const m = app !== null && typeof app === 'object' && !Array.isArray(app) ? app[section] : undefined;
  return new Set(m !== null && typeof m === 'object' && !Array.isArray(m) ? Object.keys(m) : []);
}
