import type { ConfigIssue } from '../core/result.ts';
import { valueRefs } from './refs.ts';
import type { JsonValue } from '../core/json.ts';
import type {
  AppCommand,
  AppDefinition,
  Environment,
  AppService,
  MigrationStatusCommand,
} from '../core/config-types.gen.ts';

/** Errors and warnings found by a cross-field rule. */
export interface Findings {
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** Host ports the agent's own reverse proxy always holds. */
const PROXY_PORTS = [80, 443];
const SMTP_PORTS = [25, 465];
const RESERVED_LABEL_PREFIX = 'appliance.';

/**
 * Rules inside one app definition that a schema cannot express: names that must exist
 * (services, networks, volumes), no dependency cycles, no host port published twice, exactly
 * one kind of health check, and commands an app with a database needs.
 */
export function checkApp(app: AppDefinition, file: string): Findings {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const err = (path: string, message: string): void => {
    errors.push({ file, path, message });
  };
  const services = Object.keys(app.services);
  const networks = new Set([...Object.keys(app.networks), 'default']);
  const volumes = new Set(Object.keys(app.volumes));
  const mounted = new Set<string>();
  const published = new Map<string, { service: string; ip: string }[]>();
  const reservedPorts = [...PROXY_PORTS, ...(app.ingress.smtp === undefined ? [] : SMTP_PORTS)];

  for (const [name, svc] of Object.entries(app.services)) {
    const at = `/services/${name}`;
    svc.depends_on.forEach((dep, i) => {
      if (dep === name) err(`${at}/depends_on/${i}`, 'a service cannot depend on itself');
      else if (!(dep in app.services)) err(`${at}/depends_on/${i}`, `unknown service '${dep}'`);
    });
    (svc.networks ?? []).forEach((n, i) => {
      if (!networks.has(n)) err(`${at}/networks/${i}`, `unknown network '${n}'`);
    });
    const targets = new Set<string>();
    svc.volumes.forEach((m, i) => {
      if (!volumes.has(m.volume)) err(`${at}/volumes/${i}/volume`, `unknown volume '${m.volume}'`);
      mounted.add(m.volume);
      if (targets.has(m.target)) err(`${at}/volumes/${i}/target`, `'${m.target}' is mounted twice`);
      targets.add(m.target);
    });
    svc.secret_files.forEach((f, i) => {
      if (targets.has(f.target)) err(`${at}/secret_files/${i}/target`, `'${f.target}' is mounted twice`);
      targets.add(f.target);
    });
    if (svc.healthcheck !== undefined && (svc.healthcheck.http === undefined) === (svc.healthcheck.cmd === undefined)) {
      err(`${at}/healthcheck`, "needs exactly one of 'http' or 'cmd'");
    }
    for (const label of Object.keys(svc.labels)) {
      if (label.startsWith(RESERVED_LABEL_PREFIX)) {
        err(`${at}/labels/${label}`, `label keys starting with '${RESERVED_LABEL_PREFIX}' are reserved for the agent`);
      }
    }
    checkTemplates(svc.environment, `${at}/environment`, err);
    svc.ports.forEach((p, i) => {
      const path = `${at}/ports/${i}`;
      if (reservedPorts.includes(p.host)) {
        err(`${path}/host`, `host port ${p.host} belongs to the appliance's reverse proxy or mail front`);
      }
      const key = `${p.protocol}/${p.host}`;
      const holders = published.get(key) ?? [];
      const clash = holders.find((h) => h.ip === p.host_ip || h.ip === '0.0.0.0' || p.host_ip === '0.0.0.0');
      if (clash !== undefined) {
        err(`${path}/host`, `host port ${p.host}/${p.protocol} is already published by service '${clash.service}'`);
      }
      published.set(key, [...holders, { service: name, ip: p.host_ip }]);
    });
  }
  for (const cycle of findCycles(app.services)) {
    err(`/services/${cycle[0] ?? ''}/depends_on`, `dependency cycle: ${cycle.join(' → ')}`);
  }
  for (const v of volumes) {
    if (!mounted.has(v))
      warnings.push({ file, path: `/volumes/${v}`, message: `volume '${v}' is not mounted by any service` });
  }
  for (const [name, vol] of Object.entries(app.volumes)) {
    if (vol.backup === true && vol.kind !== 'data') {
      err(`/volumes/${name}/backup`, `only volumes of kind 'data' are backed up as files (this one is '${vol.kind}')`);
    }
  }

  if (app.database !== undefined) {
    const db = app.services[app.database.service];
    if (db === undefined) err('/database/service', `unknown service '${app.database.service}'`);
    else if (db.role !== 'database')
      err('/database/service', `service '${app.database.service}' must have role 'database'`);
    for (const c of ['migrate', 'migration_status'] as const) {
      if (app.commands[c] === undefined) err('/commands', `missing required key '${c}' (the app has a database)`);
    }
  }
  for (const [name, cmd] of commandEntries(app)) {
    if (!(cmd.service in app.services)) err(`/commands/${name}/service`, `unknown service '${cmd.service}'`);
    checkTemplates(cmd.environment, `/commands/${name}/environment`, err);
  }

  const seenRoutes = new Set<string>();
  app.ingress.http?.routes.forEach((r, i) => {
    if (!(r.service in app.services)) err(`/ingress/http/routes/${i}/service`, `unknown service '${r.service}'`);
    if (seenRoutes.has(r.path)) err(`/ingress/http/routes/${i}/path`, `route '${r.path}' is given twice`);
    seenRoutes.add(r.path);
  });
  if (app.ingress.smtp !== undefined && !(app.ingress.smtp.service in app.services)) {
    err('/ingress/smtp/service', `unknown service '${app.ingress.smtp.service}'`);
  }
  const ca = app.ingress.client_ca;
  if (ca !== undefined && !volumes.has(ca.volume)) err('/ingress/client_ca/volume', `unknown volume '${ca.volume}'`);
  // Not built yet: the mail front and the app's own client CA (the ingress takes env.yml's).
  if (app.ingress.smtp !== undefined)
    warnings.push({
      file,
      path: '/ingress/smtp',
      message: 'not supported yet: the agent ignores this setting (remove it)',
    });
  if (ca !== undefined)
    warnings.push({
      file,
      path: '/ingress/client_ca',
      message: 'not supported yet: the agent ignores this setting (remove it)',
    });
  if (services.length > 0 && !services.some((s) => app.services[s]?.role === 'app')) {
    warnings.push({ file, path: '/services', message: "no service has role 'app'" });
  }
  return { errors, warnings };
}

function checkTemplates(env: Environment, at: string, err: (path: string, message: string) => void): void {
  for (const [k, v] of Object.entries(env)) {
    const r = valueRefs(v as JsonValue);
    if (r.error !== undefined) err(`${at}/${k}/template`, r.error);
  }
}

const COMMAND_NAMES = [
  'migrate',
  'migration_status',
  'migration_state',
  'reverse_migrate',
  'health',
  'smoke_test',
  'first_user',
  'session_cleanup',
] as const;

/** The commands an app defines, in a fixed order. */
export function commandEntries(
  app: AppDefinition,
): [(typeof COMMAND_NAMES)[number], AppCommand | MigrationStatusCommand][] {
  return COMMAND_NAMES.flatMap((name) => {
    const cmd = app.commands[name];
    return cmd === undefined
      ? []
      : [[name, cmd] as [(typeof COMMAND_NAMES)[number], AppCommand | MigrationStatusCommand]];
  });
}

/** Dependency cycles, each as the list of services from the first back to itself. */
export function findCycles(services: Record<string, AppService>): string[][] {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const stack: string[] = [];
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      cycles.push([...stack.slice(stack.indexOf(name)), name]);
      return;
    }
    state.set(name, 'visiting');
    stack.push(name);
    for (const dep of services[name]?.depends_on ?? []) if (dep in services && dep !== name) visit(dep);
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of Object.keys(services).sort()) visit(name);
  return cycles;
}

/** Service names in start order (dependencies first, then by name); assumes no cycles. */
export function startOrder(services: Record<string, AppService>): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name)) return;
    done.add(name);
    for (const dep of [...(services[name]?.depends_on ?? [])].sort()) if (dep in services) visit(dep);
    order.push(name);
  };
  for (const name of Object.keys(services).sort()) visit(name);
  return order;
}
