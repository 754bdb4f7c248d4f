import { X509Certificate } from 'node:crypto';
import { parseCron } from '../core/cron.ts';
import type { ConfigIssue } from '../core/result.ts';
import type { Findings } from './app-rules.ts';
import type { ApplianceConfig, EnvConfig } from '../core/config-types.gen.ts';

/** The longest `service_mode.message` (UTF-8 bytes): a short notice, not a document. */
export const SERVICE_MESSAGE_MAX_BYTES = 1024;

/** Rules inside a decrypted env.yml that its schema cannot express. */
export function checkEnv(env: EnvConfig, file: string): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const err = (path: string, message: string): void => {
    errors.push({ file, path, message });
  };
  for (const name of Object.keys(env.app.secrets)) {
    if (name in env.app.settings) err(`/app/secrets/${name}`, `'${name}' is in both app.settings and app.secrets`);
  }
  if (env.recover_from_backup && env.recover_from_dump !== undefined) {
    err('/recover_from_dump', 'give recover_from_backup or recover_from_dump, not both');
  }
  if (env.recover_from_backup && env.backup === undefined) {
    err('/recover_from_backup', 'needs a backup section to recover from');
  }
  const paths = new Set<string>();
  env.extra_files.forEach((f, i) => {
    if (paths.has(f.path)) err(`/extra_files/${i}/path`, `'${f.path}' is listed twice`);
    paths.add(f.path);
  });
  const retired = new Set(env.ssh.deprecated_keys);
  env.ssh.authorized_keys.forEach((k, i) => {
    if (retired.has(k)) err(`/ssh/authorized_keys/${i}`, 'this key is also in ssh.deprecated_keys');
  });
  const seenHosts = new Map<string, number>();
  (env.allowed_hosts ?? []).forEach((h, i) => {
    // DNS names compare without case and without the root's trailing dot: the proxy would
    // match both spellings to one site, so the second one is a mistake, not an extra name.
    const key = h.toLowerCase().replace(/\.$/, '');
    const first = seenHosts.get(key);
    if (first !== undefined) err(`/allowed_hosts/${i}`, `'${h}' is the same host name as allowed_hosts[${first}]`);
    else seenHosts.set(key, i);
  });
  const ca = env.tls.client_certs.ca;
  const caProblem = ca === undefined ? undefined : pemCaProblem(ca);
  if (caProblem !== undefined) err('/tls/client_certs/ca', caProblem);
  // The ingress serves ACME or its own CA's certificates; a given pair has no step behind it yet.
  if (env.tls.key !== undefined)
    warnings.push({ file, path: '/tls/key', message: 'not supported yet: the agent ignores this setting (remove it)' });
  if (env.tls.acme.enabled && env.tls.key !== undefined) {
    warnings.push({
      file,
      path: '/tls/acme/enabled',
      message: 'a custom key and certificate are given; ACME is not used',
    });
  }
  return { errors, warnings };
}

/** Rules inside appliance.yml: cron expressions, time zone, update window, image pinning. */
export function checkAppliance(appliance: ApplianceConfig, file: string): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const [name, expr] of Object.entries(appliance.schedules)) {
    if (typeof expr !== 'string') continue;
    const r = parseCron(expr);
    if (!r.ok) errors.push({ file, path: `/schedules/${name}`, message: `invalid cron expression: ${r.message}` });
  }
  if (!isTimeZone(appliance.timezone)) {
    errors.push({ file, path: '/timezone', message: `unknown time zone '${appliance.timezone}'` });
  }
  const w = appliance.policies.update_window;
  if (w !== undefined && w.start === w.end) {
    errors.push({
      file,
      path: '/policies/update_window',
      message: 'start and end are equal: the window would be empty',
    });
  }
  const message = appliance.service_mode?.message ?? '';
  const bytes = new TextEncoder().encode(message).length;
  if (bytes > SERVICE_MESSAGE_MAX_BYTES) {
    errors.push({
      file,
      path: '/service_mode/message',
      message: `is ${bytes} bytes long; the service page takes at most ${SERVICE_MESSAGE_MAX_BYTES}`,
    });
  }
  for (const path of unsupportedSettings(appliance)) {
    warnings.push({ file, path, message: 'not supported yet: the agent ignores this setting (remove it)' });
  }
  for (const [service, image] of Object.entries(appliance.images)) {
    if (/:latest(@|$)/.test(image) && !image.includes('@sha256:')) {
      warnings.push({
        file,
        path: `/images/${service}`,
        message: "tag 'latest' is not a pin: pin a version tag or a digest",
      });
    }
  }
  return { errors, warnings };
}

/**
 * Settings the schema accepts for a feature the agent does not have yet (each has its own
 * issue). A null schedule is left alone: it says the job is off, which is true.
 */
export function unsupportedSettings(appliance: ApplianceConfig): string[] {
  const paths: string[] = [];
  if (appliance.schedules.host_updates != null) paths.push('/schedules/host_updates');
  if (appliance.schedules.support_updates != null) paths.push('/schedules/support_updates');
  if (appliance.policies.reboot !== undefined) paths.push('/policies/reboot');
  if (appliance.agent !== undefined) paths.push('/agent/version');
  // Caddy renews its certificates itself; sessions and windows have no runtime yet.
  if (appliance.schedules.certificate_renewal != null) paths.push('/schedules/certificate_renewal');
  if (appliance.schedules.session_cleanup != null) paths.push('/schedules/session_cleanup');
  if (appliance.policies.update_window !== undefined) paths.push('/policies/update_window');
  return paths;
}

let zones: ReadonlySet<string> | undefined;

// The list of zones comes cheap; a DateTimeFormat loads ICU's locale and formatting data (~8 MB
// resident for the life of the process), so it only decides names the list lacks (aliases).
function isTimeZone(tz: string): boolean {
  zones ??= new Set(['UTC', ...Intl.supportedValuesOf('timeZone')]);
  if (zones.has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g;

/**
 * Why a client CA (PEM) cannot be used, or undefined: exactly one certificate, readable as
 * X.509, marked as a CA. Caught here, it never reaches the proxy as a configuration it refuses.
 */
function pemCaProblem(pem: string): string | undefined {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return 'is not a PEM certificate (no BEGIN/END CERTIFICATE block)';
  if (blocks.length > 1) return `holds ${blocks.length} certificates; give the one CA certificate`;
  if (pem.replace(PEM_CERTIFICATE, '').trim() !== '') return 'has text outside the BEGIN/END CERTIFICATE block';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(blocks[0] ?? '');
  } catch {
    return 'is not a valid X.509 certificate (the PEM block does not decode to one)';
  }
  if (!cert.ca) return `is not a CA certificate ('${cert.subject.replace(/\n/g, ', ')}' may not sign others)`;
  return undefined;
}
