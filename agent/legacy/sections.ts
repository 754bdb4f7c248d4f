import type { JsonObject, JsonValue } from '../core/json.ts';
import { legacyBackupRepository, onCalendarToCron } from './values.ts';

/** Mappers for sections of an old appliance env.yml; each reports what it cannot carry over. */

export type Obj = Record<string, JsonValue>;
type Note = (key: string, text: string) => void;

/** appliance.ssl → tls. */
export function mapSsl(ssl: Obj, env: JsonObject, note: Note): void {
  const tls = sub(env, 'tls');
  const le = obj(ssl['letsencrypt']);
  if (typeof le['enabled'] === 'boolean') tls['acme'] = { enabled: le['enabled'] };
  if (typeof ssl['key'] === 'string' && typeof ssl['cert'] === 'string') {
    tls['key'] = ssl['key'];
    tls['cert'] = ssl['cert'];
  } else if ('key' in ssl || 'cert' in ssl) note('appliance.ssl.key/cert', 'only one of key and cert is set (dropped)');
  const mandatory = ssl['client_certs_mandatory'] === true;
  tls['client_certs'] = { mode: mandatory ? 'mandatory' : 'optional' };
  note(
    'appliance.ssl.client_certs_mandatory',
    `client_certs.mode '${mandatory ? 'mandatory' : 'optional'}' with the CA the ECS app keeps in its ecs-ca volume`,
  );
  for (const k of Object.keys(ssl)) {
    if (!['letsencrypt', 'key', 'cert', 'client_certs_mandatory'].includes(k))
      note(`appliance.ssl.${k}`, 'no equivalent (dropped)');
  }
}

/** appliance.extra → extra_files (packages and Salt states are reported). */
export function mapExtra(extra: Obj, env: JsonObject, note: Note): void {
  const files: JsonObject[] = [];
  for (const f of Array.isArray(extra['files']) ? extra['files'] : []) {
    const o = obj(f);
    const content = o['contents'] ?? o['content'];
    if (typeof o['path'] !== 'string' || typeof content !== 'string') {
      note('appliance.extra.files', 'an entry without path or contents (dropped)');
      continue;
    }
    const file: JsonObject = { path: o['path'], content };
    if (typeof o['owner'] === 'string') file['owner'] = o['owner'];
    const p = o['permissions'];
    // YAML 1.1 reads 0644 as an octal number.
    if (typeof p === 'number') file['mode'] = `0${p.toString(8).padStart(3, '0')}`;
    else if (typeof p === 'string') file['mode'] = p.length === 3 ? `0${p}` : p;
    files.push(file);
  }
  if (files.length > 0) env['extra_files'] = files;
  if ('packages' in extra)
    note('appliance.extra.packages', 'no equivalent: add the packages to the image (packer) (dropped)');
  if ('states' in extra)
    note(
      'appliance.extra.states',
      'Salt states have no equivalent: move what is needed into the image or extra_files (dropped)',
    );
  for (const k of Object.keys(extra)) {
    if (!['files', 'packages', 'states'].includes(k)) note(`appliance.extra.${k}`, 'no equivalent (dropped)');
  }
}

/** appliance.update.oncalendar → schedules.host_updates and policies.update_window. */
export function mapCalendar(calendar: string, appliance: JsonObject, note: Note): void {
  const c = onCalendarToCron(calendar);
  if (c === undefined) {
    note(
      'appliance.update.oncalendar',
      `cannot translate '${calendar}' to cron: set schedules.host_updates and policies.update_window by hand`,
    );
    return;
  }
  appliance['schedules'] = { host_updates: c.cron };
  appliance['policies'] = { update_window: { days: c.days, start: c.start, end: c.end } };
  note(
    'appliance.update.oncalendar',
    `host updates at '${c.cron}'; app updates only in the window ${c.start}-${c.end}`,
  );
}

/** appliance.storage → storage.ignore (the old disk setup is reported). */
export function mapStorage(storage: Obj, env: JsonObject, note: Note): void {
  const ignore = obj(storage['ignore']);
  const out: Obj = {};
  for (const k of ['data', 'volatile']) if (typeof ignore[k] === 'boolean') out[k] = ignore[k];
  if (Object.keys(out).length > 0) sub(env, 'storage')['ignore'] = out;
  for (const k of Object.keys(storage)) {
    if (k === 'ignore') continue;
    if (k === 'setup')
      note(
        'appliance.storage.setup',
        'the disk layout is made by the image and the agent (btrfs); storage_setup is not used (dropped)',
      );
    else note(`appliance.storage.${k}`, 'never implemented in the old appliance (dropped)');
  }
}

/** appliance.backup (duplicity) → backup (restic) with a new password. */
export function mapBackup(b: Obj, env: JsonObject, newSecret: () => string, note: Note): void {
  const url = typeof b['url'] === 'string' ? b['url'] : 'file:///volatile/ecs-backup-test/';
  const repository = legacyBackupRepository(url);
  if (repository === undefined) {
    note(
      'appliance.backup.url',
      'this duplicity target has no restic equivalent here: set backup.repository by hand (no backup section written)',
    );
  } else {
    const backup: JsonObject = { repository, password: newSecret() };
    const m = obj(b['mount']);
    if (typeof m['type'] === 'string' && typeof m['source'] === 'string' && typeof m['target'] === 'string') {
      backup['mount'] = { ...m };
    }
    env['backup'] = backup;
    note(
      'appliance.backup.url',
      'restic replaces duplicity: a new, empty repository; keep the old duplicity backups until the new ones cover the retention period',
    );
    note('backup.password', 'generated: restic encrypts with this password (store it with the config)');
    if (repository.startsWith('sftp:'))
      note('backup.known_hosts', "add the backup host's key (ssh-keyscan) to backup.known_hosts");
  }
  if ('encrypt' in b)
    note(
      'appliance.backup.encrypt',
      'the GPG backup key is not needed: restic encrypts with backup.password (dropped)',
    );
  if ('options' in b) note('appliance.backup.options', 'duplicity options have no restic equivalent (dropped)');
}

/** The value as a mapping, or an empty one. */
export function obj(v: JsonValue | undefined): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The mapping at `key` of `parent`, created when missing. */
export function sub(parent: JsonObject, key: string): JsonObject {
  const cur = parent[key];
  if (cur !== null && typeof cur === 'object' && !Array.isArray(cur)) return cur;
  const made: JsonObject = {};
  parent[key] = made;
  return made;
}

/** The strings of a list value. */
export function strings(v: JsonValue | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
