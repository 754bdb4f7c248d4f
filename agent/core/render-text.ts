import { MASK, type DesiredService, type DesiredState, type DesiredValue } from './desired.ts';
import type { JsonValue } from './json.ts';

/**
 * A readable, line-oriented view of a DesiredState with every secret shown as `***`, for
 * `appliance render`. Deterministic: the same state always gives the same text.
 */
export function formatDesiredText(state: DesiredState): string {
  const lines: string[] = [];
  const add = (text = ''): void => {
    lines.push(text);
  };
  const { app } = state;
  add(`appliance ${state.name}`);
  add(`  revision     ${state.revision}`);
  if (state.agentVersion !== undefined) add(`  agent        ${state.agentVersion} (not supported yet: ignored)`);
  add(`  timezone     ${state.timezone}`);
  add(`  app          ${app.name} (${app.file})`);
  add();
  add('services (start order)');
  for (const s of app.services) service(s, add);
  add();
  add('volumes');
  for (const v of app.volumes) {
    const where = v.hostPath ?? `engine volume ${app.name}_${v.name}`;
    add(
      `  ${pad(v.name, 14)} ${pad(v.kind, 9)} ${where}${v.backup ? '  [backup]' : ''}${v.owner === undefined ? '' : `  owner ${v.owner}`}`,
    );
  }
  add('networks');
  for (const n of app.networks) add(`  ${n.name}${n.internal ? '  [internal]' : ''}`);
  if (app.database !== undefined) {
    const db = app.database;
    add('database');
    add(`  ${db.service}: ${db.name} as ${db.user} (password ${show(db.password)})`);
  }
  add('commands');
  for (const c of Object.values(app.commands)) {
    const extra = c.pendingExitCode === undefined ? '' : `, pending = exit ${c.pendingExitCode}`;
    add(`  ${pad(c.name, 17)} ${c.service}: ${c.command.join(' ')}  (timeout ${c.timeoutSeconds}s${extra})`);
  }
  add('ingress');
  add(`  hosts        ${app.ingress.serverNames.join(', ')}`);
  for (const r of app.ingress.http?.routes ?? []) add(`  https ${pad(r.path, 6)} → ${r.service}:${r.port}`);
  if (app.ingress.smtp !== undefined) add(`  smtp 25/465  → ${app.ingress.smtp.service}:${app.ingress.smtp.port}`);
  const cc = app.ingress.clientCerts;
  add(
    `  client certs ${cc.mode}${cc.caFile === undefined ? '' : ` (CA ${cc.caFile})`}${cc.ca === undefined ? '' : ' (CA from env.yml)'}`,
  );
  if (Object.keys(app.cloneSettings).length > 0) {
    add('clone settings');
    for (const [k, v] of Object.entries(app.cloneSettings)) add(`  ${k}=${v}`);
  }
  add();
  add('schedules');
  for (const [k, v] of Object.entries(state.schedules)) add(`  ${pad(k, 20)} ${v ?? 'disabled'}`);
  add('policies');
  for (const line of flatten(state.policies as unknown as JsonValue, '')) add(`  ${line}`);
  add();
  add('site (env.yml)');
  const secret = new Set(state.secretPaths);
  for (const line of flatten(state.site as unknown as JsonValue, '', (p) => secret.has(p))) add(`  ${line}`);
  return `${lines.join('\n')}\n`;
}

function service(s: DesiredService, add: (t?: string) => void): void {
  add(`  ${s.name}  [${s.role}]  ${s.image}`);
  if (s.entrypoint !== undefined) add(`    entrypoint   ${s.entrypoint.join(' ')}`);
  if (s.command !== undefined) add(`    command      ${s.command.join(' ')}`);
  if (s.user !== undefined) add(`    user         ${s.user}`);
  for (const [k, v] of Object.entries(s.environment)) add(`    env          ${k}=${show(v)}`);
  for (const f of s.secretFiles) add(`    secret file  ${f.target} (0600, ${f.owner}) = ${show(f.value)}`);
  for (const p of s.ports) add(`    port         ${p.hostIp}:${p.host} → ${p.container}/${p.protocol}`);
  for (const m of s.mounts) add(`    mount        ${m.volume} → ${m.target}${m.readOnly ? ' (ro)' : ''}`);
  add(`    networks     ${s.networks.join(', ')}`);
  if (s.dependsOn.length > 0) add(`    depends on   ${s.dependsOn.join(', ')}`);
  const h = s.healthcheck;
  if (h !== undefined) {
    const how =
      h.http !== undefined ? `GET :${h.http.port}${h.http.path} → ${h.http.status}` : `cmd ${(h.cmd ?? []).join(' ')}`;
    add(`    health       ${how} (every ${h.intervalSeconds}s, timeout ${h.timeoutSeconds}s, ${h.retries} retries)`);
  }
  const labels = Object.entries(s.labels);
  for (const [k, v] of labels) add(`    label        ${k}=${v}`);
  add(
    `    restart      ${s.restart}, stop timeout ${s.stopTimeoutSeconds}s${s.memoryLimit === undefined ? '' : `, memory ${s.memoryLimit}`}`,
  );
}

function show(v: DesiredValue): string {
  return v.secret ? MASK : JSON.stringify(v.value).slice(1, -1);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** `a.b.c: value` lines for every leaf; secret leaves (by JSON pointer) shown as ***. */
function flatten(v: JsonValue, pointer: string, isSecret: (p: string) => boolean = () => false): string[] {
  const name = pointer.slice(1).replace(/\//g, '.');
  if (isSecret(pointer)) return [`${name}: ${MASK}`];
  if (Array.isArray(v)) {
    const inline = v.every((x, i) => (x === null || typeof x !== 'object') && !isSecret(`${pointer}/${i}`));
    if (inline) return [`${name}: ${JSON.stringify(v)}`];
    return v.flatMap((x, i) => flatten(x, `${pointer}/${i}`, isSecret));
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    if (entries.length === 0) return [`${name}: {}`];
    return entries.flatMap(([k, x]) => flatten(x, `${pointer}/${k}`, isSecret));
  }
  const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return [`${name}: ${text}`];
}
