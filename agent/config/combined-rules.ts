import { INGRESS_SERVICE } from '../core/ingress-config.ts';
import type { JsonValue } from '../core/json.ts';
import type { ConfigIssue } from '../core/result.ts';
import { commandEntries, type Findings } from './app-rules.ts';
import { checkClones } from './clone-rules.ts';
import { checkPreflight } from './preflight-rules.ts';
import { refProblem, valueRefs } from './refs.ts';
import type { ApplianceDocs } from './appliance-docs.ts';

export type { ApplianceDocs } from './appliance-docs.ts';

/**
 * Rules across files: appliance.yml names only services the app has and every service ends up
 * with an image; every reference of the app resolves in env.yml (checked on keys alone when
 * env.yml is still encrypted); what env.yml asks for exists in the app.
 */
export function checkCombination(d: ApplianceDocs): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const services = d.app.services;
  const appName = `app '${d.app.name}' (${d.appFile})`;

  for (const s of Object.keys(d.appliance.images)) {
    // images.ingress is the agent's own ingress (Caddy) unless the app has a service of that name.
    if (!(s in services) && s !== INGRESS_SERVICE)
      errors.push({ file: d.applianceFile, path: `/images/${s}`, message: `${appName} has no service '${s}'` });
  }
  for (const s of Object.keys(d.appliance.services)) {
    if (!(s in services))
      errors.push({ file: d.applianceFile, path: `/services/${s}`, message: `${appName} has no service '${s}'` });
  }
  for (const [s, svc] of Object.entries(services)) {
    if (svc.image === undefined && d.appliance.images[s] === undefined) {
      errors.push({
        file: d.applianceFile,
        path: '/images',
        message: `no image for service '${s}': set images.${s} here or services.${s}.image in ${d.appFile}`,
      });
    }
  }

  const checkRef = (ref: string, path: string): void => {
    const problem = refProblem(ref, d.envTree);
    if (problem !== undefined)
      errors.push({ file: d.appFile, path, message: `reference '${ref}' ${problem} in ${d.envFile}` });
  };
  const checkEnvironment = (env: Record<string, JsonValue>, at: string): void => {
    for (const [k, v] of Object.entries(env)) {
      const field =
        v !== null && typeof v === 'object' && !Array.isArray(v) ? ('from' in v ? '/from' : '/template') : '';
      for (const ref of valueRefs(v).refs) checkRef(ref, `${at}/${k}${field}`);
    }
  };
  for (const [s, svc] of Object.entries(services)) {
    checkEnvironment(svc.environment as Record<string, JsonValue>, `/services/${s}/environment`);
    svc.secret_files.forEach((f, i) => {
      checkRef(f.from, `/services/${s}/secret_files/${i}/from`);
    });
  }
  for (const [name, cmd] of commandEntries(d.app)) {
    checkEnvironment(cmd.environment as Record<string, JsonValue>, `/commands/${name}/environment`);
  }
  if (d.app.database !== undefined) checkRef(d.app.database.password_from, '/database/password_from');

  const has = (key: string): boolean =>
    d.envTree !== null && typeof d.envTree === 'object' && !Array.isArray(d.envTree) && d.envTree[key] !== undefined;
  if (has('first_user') && d.app.commands.first_user === undefined) {
    errors.push({ file: d.envFile, path: '/first_user', message: `${appName} has no first_user command` });
  }
  if (!has('backup') && d.appliance.schedules.backup !== null) {
    warnings.push({ file: d.envFile, path: '', message: 'no backup section: this appliance is not backed up' });
  }
  const certs = d.env?.tls.client_certs;
  if (certs !== undefined && certs.mode !== 'off' && certs.ca === undefined && d.app.ingress.client_ca === undefined) {
    errors.push({
      file: d.envFile,
      path: '/tls/client_certs',
      message: `client certificates are '${certs.mode}' but there is no CA: set tls.client_certs.ca or ingress.client_ca in ${d.appFile}`,
    });
  }
  const clones = checkClones(d);
  const preflight = checkPreflight(d);
  return {
    errors: [...errors, ...clones.errors, ...preflight.errors],
    warnings: [...warnings, ...clones.warnings, ...preflight.warnings],
  };
}
