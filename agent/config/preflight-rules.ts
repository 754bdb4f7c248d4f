import type { ConfigIssue } from '../core/result.ts';
import type { Findings } from './app-rules.ts';
import type { ApplianceDocs } from './appliance-docs.ts';

/**
 * Rules for appliance.yml `preflight`: patterns are plain per-segment globs; a pre-flight runs on
 * a clone, so it needs snapshot support; without a smoke_test command only the health checks
 * judge the head, and without env.yml `forge` its results reach no commit (both warned about).
 */
export function checkPreflight(d: ApplianceDocs): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const preflight = d.appliance.preflight;
  if (preflight === undefined) return { errors, warnings };
  const file = d.applianceFile;
  preflight.refs.forEach((pattern, i) => {
    if (pattern.includes('**'))
      errors.push({
        file,
        path: `/preflight/refs/${i}`,
        message: `'**' is not a pattern here: a * matches inside one segment`,
      });
    if (pattern.split('/').some((s) => s === '' || s === '.' || s === '..'))
      errors.push({ file, path: `/preflight/refs/${i}`, message: `'${pattern}' has an empty, '.' or '..' segment` });
  });
  if (!Object.values(d.app.volumes).some((v) => v.kind === 'data' || v.kind === 'database')) {
    errors.push({
      file,
      path: '/preflight',
      message: `pre-flight runs on a clone and needs snapshot support: app '${d.app.name}' (${d.appFile}) has no data or database volume under the data path to snapshot`,
    });
  }
  if (d.app.commands.smoke_test === undefined) {
    warnings.push({
      file,
      path: '/preflight',
      message: `app '${d.app.name}' (${d.appFile}) has no smoke_test command: a pre-flight is judged by its migrations and health checks alone`,
    });
  }
  const env = d.envTree;
  const forge = env !== null && typeof env === 'object' && !Array.isArray(env) ? env['forge'] : undefined;
  if (forge === undefined) {
    warnings.push({
      file,
      path: '/preflight',
      message: `${d.envFile} has no forge section: pre-flight results are posted to no commit, only logged and shown in /status`,
    });
  }
  return { errors, warnings };
}
