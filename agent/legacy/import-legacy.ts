import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../core/json.ts';
import { fail, ok, type ConfigResult } from '../core/result.ts';
import { parseLegacySettings } from './settings.ts';
import { parseYamlObject } from '../config/parse-yaml.ts';
import { mapBackup, mapCalendar, mapExtra, mapSsl, mapStorage, obj, strings, sub, type Obj } from './sections.ts';

/** What an old appliance's env.yml becomes, and what a person has to look at. */
export interface LegacyImport {
  /** Plaintext env.yml (encrypt before committing). */
  env: JsonObject;
  appliance: JsonObject;
  /** Every old key that was dropped, changed meaning, or needs a decision; and generated values. */
  report: { key: string; note: string }[];
}

export interface ImportOptions {
  /** New random secrets (restic password, database password); injectable for tests. */
  generateSecret?: () => string;
  /** App definition the appliance runs. */
  app?: string;
}

/**
 * Maps an old ECS appliance env.yml (`#cloud-config` with `appliance:` and `ecs:` trees) to
 * the new env.yml and appliance.yml. Pure apart from generating secrets. Nothing is dropped
 * silently: every key without an equivalent is in `report`.
 */
export function importLegacy(oldYamlText: string, options: ImportOptions = {}): ConfigResult<LegacyImport> {
  const parsed = parseYamlObject(oldYamlText, 'legacy env.yml', { version: '1.1' });
  if (!parsed.ok) return parsed;
  const old = parsed.value;
  const newSecret = options.generateSecret ?? (() => randomBytes(24).toString('base64url'));
  const report: LegacyImport['report'] = [];
  const note = (key: string, text: string): void => {
    report.push({ key, note: text });
  };
  const env: JsonObject = {};
  const appliance: JsonObject = {
    app: options.app ?? 'apps/ecs/app.yml',
  };
  const settings: Obj = {};
  const secrets: Record<string, string> = {};
  const a = obj(old['appliance']);
  const e = obj(old['ecs']);

  if (typeof a['domain'] !== 'string')
    return fail({ file: 'legacy env.yml', path: '/appliance/domain', message: 'missing required key' });
  env['domain'] = a['domain'];
  for (const [k, v] of Object.entries(old)) {
    if (k === 'appliance' || k === 'ecs') continue;
    if (k === 'ssh_authorized_keys' || k === 'ssh_deprecated_keys') {
      const ssh = sub(env, 'ssh');
      ssh[k === 'ssh_authorized_keys' ? 'authorized_keys' : 'deprecated_keys'] = strings(v);
    } else if (k === 'http_proxy' && typeof v === 'string') sub(env, 'proxy')['http'] = v;
    else if (k === 'no_proxy' && typeof v === 'string')
      sub(env, 'proxy')['no_proxy'] = v.split(/[\s,]+/).filter(Boolean);
    else if (k === 'disable_root') note(k, 'cloud-init option; the agent manages SSH access itself (dropped)');
    else if (k === 'USERDATA_TYPE' || k === 'USERDATA_ERR') note(k, 'added by the old user-data discovery (dropped)');
    else note(k, 'no equivalent (dropped)');
  }

  for (const [k, v] of Object.entries(a)) {
    const key = `appliance.${k}`;
    switch (k) {
      case 'domain':
        break;
      case 'standby':
        env['standby'] = v === true;
        break;
      case 'allowed_hosts': {
        const hosts = typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : strings(v);
        if (hosts.length > 0) env['allowed_hosts'] = [...new Set(hosts)];
        note(key, 'was not used by the old code; the reverse proxy now answers for exactly these hosts');
        break;
      }
      case 'ssl':
        mapSsl(obj(v), env, note);
        break;
      case 'sentry': {
        const s = obj(v);
        if (typeof s['dsn'] === 'string') env['sentry'] = { dsn: s['dsn'] };
        for (const o of Object.keys(s))
          if (o !== 'dsn') note(`${key}.${o}`, 'option of the old salt returner (dropped)');
        break;
      }
      case 'metric': {
        const m = obj(v);
        const metrics: Obj = {};
        for (const [mk, mv] of Object.entries(m)) {
          if (['exporter', 'server', 'gui', 'pghero'].includes(mk) && typeof mv === 'boolean') metrics[mk] = mv;
          else note(`${key}.${mk}`, 'no equivalent (dropped)');
        }
        env['metrics'] = metrics;
        break;
      }
      case 'git':
        note(key, 'self-update from a git branch is gone (agent.version in appliance.yml is not supported yet)');
        break;
      case 'extra':
        mapExtra(obj(v), env, note);
        break;
      case 'update': {
        const u = obj(v);
        if (typeof u['automatic'] === 'boolean') sub(env, 'update')['automatic'] = u['automatic'];
        if (typeof u['oncalendar'] === 'string') mapCalendar(u['oncalendar'], appliance, note);
        for (const o of Object.keys(u))
          if (o !== 'automatic' && o !== 'oncalendar') note(`${key}.${o}`, 'no equivalent (dropped)');
        break;
      }
      case 'storage':
        mapStorage(obj(v), env, note);
        break;
      case 'dkim':
        if (typeof obj(v)['key'] === 'string')
          sub(env, 'mail')['dkim'] = { selector: 'default', private_key: obj(v)['key'] ?? '' };
        break;
      case 'backup':
        mapBackup(obj(v), env, newSecret, note);
        break;
      default:
        note(key, 'no equivalent (dropped)');
    }
  }

  for (const [k, v] of Object.entries(e)) {
    const key = `ecs.${k}`;
    if (k === 'git') {
      const commit = obj(v)['commitid'];
      note(
        key,
        `ECS is now pinned by image in appliance.yml images${typeof commit === 'string' ? ` (was commit ${commit})` : ''}`,
      );
    } else if (k === 'database') {
      if (v !== 'ecs') note(key, `the ECS app definition uses database 'ecs', not '${JSON.stringify(v)}'`);
    } else if (k === 'userswitcher') {
      const u = obj(v);
      if (typeof u['enabled'] === 'boolean') settings['ECS_USERSWITCHER_ENABLED'] = u['enabled'];
      if ('parameter' in u) note(`${key}.parameter`, 'legacy, unused (dropped)');
    } else if (k === 'migrate') note(key, 'legacy, unused: the agent migrates on every update (dropped)');
    else if (k === 'settings' && typeof v === 'string') {
      const parsedSettings = parseLegacySettings(v);
      Object.assign(settings, parsedSettings.settings);
      Object.assign(secrets, parsedSettings.secrets);
      for (const s of parsedSettings.skipped)
        note(`${key} line ${s.line}${s.name === undefined ? '' : ` (${s.name})`}`, s.note);
    } else if (k === 'vault_encrypt' && typeof v === 'string') secrets['ECS_VAULT_ENCRYPT'] = v;
    else if (k === 'vault_sign' && typeof v === 'string') secrets['ECS_VAULT_SIGN'] = v;
    else note(key, 'no equivalent (dropped)');
  }
  secrets['DATABASE_PASSWORD'] = newSecret();
  note('app.secrets.DATABASE_PASSWORD', 'generated: the database password lived on the old machine (database_url.env)');
  env['app'] = { settings, secrets };
  note(
    'images',
    "none pinned: the app definition's default images run; pin each service's image in appliance.yml images",
  );
  appliance['timezone'] = 'Europe/Vienna';
  note('timezone', 'the old appliance ran in Europe/Vienna; set in appliance.yml');
  return ok({ env: ordered(env), appliance, report });
}

const ENV_ORDER = [
  'domain',
  'allowed_hosts',
  'standby',
  'tls',
  'mail',
  'backup',
  'storage',
  'update',
  'ssh',
  'sentry',
  'metrics',
  'proxy',
  'app',
  'extra_files',
];

function ordered(env: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const k of ENV_ORDER) if (env[k] !== undefined) out[k] = env[k];
  for (const [k, v] of Object.entries(env)) if (!(k in out)) out[k] = v;
  return out;
}
