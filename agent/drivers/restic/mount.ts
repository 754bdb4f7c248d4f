import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentError, isAgentError } from '../../core/errors.ts';
import { run } from '../../lib/exec.ts';

/** env.yml `backup.mount`: a filesystem mounted around each backup run. */
export interface BackupMountSpec {
  type: string;
  source: string;
  target: string;
  /** May hold credentials: never on argv. */
  options?: string;
}

/** How commands are run; tests pass a recording fake to see the argv and files at exec time. */
export type MountRun = typeof run;

/** Filesystem types whose helper (mount.cifs) takes a `credentials=` file. */
const CIFS = new Set(['cifs', 'smb3']);
/** CIFS options that carry credentials, and their name in a credentials file. */
const CIFS_CREDENTIALS: Record<string, string> = {
  username: 'username',
  user: 'username',
  password: 'password',
  pass: 'password',
  domain: 'domain',
  dom: 'domain',
  workgroup: 'domain',
};

/**
 * The fstab line for `spec` and, for CIFS, the content of the credentials file at
 * `credentialsFile`: mount(8) hands the options to the helper's argv (`mount.cifs -o …`), so
 * user, password and domain move into the file and the options name it. Whitespace in the
 * options is refused (it would split the fstab line).
 */
export function mountLine(
  spec: BackupMountSpec,
  credentialsFile: string,
): { line: string; credentials: string | undefined } {
  const raw = spec.options ?? '';
  if (/\s/.test(raw))
    throw new AgentError('BackupMountInvalid', 'backup.mount.options must not contain whitespace', {
      terminal: true,
      data: { target: spec.target, type: spec.type },
    });
  let options = raw === '' ? 'defaults' : raw;
  let credentials: string | undefined;
  if (CIFS.has(spec.type) && raw !== '') {
    // mount.cifs writes a comma inside a value as ",,".
    const parts = raw.match(/(?:[^,]|,,)+/g) ?? [];
    const kept: string[] = [];
    const lines: string[] = [];
    for (const part of parts) {
      const eq = part.indexOf('=');
      const name = CIFS_CREDENTIALS[(eq < 0 ? part : part.slice(0, eq)).toLowerCase()];
      if (name === undefined || eq < 0) kept.push(part);
      else lines.push(`${name}=${part.slice(eq + 1).replace(/,,/g, ',')}`);
    }
    if (lines.length > 0) {
      credentials = `${lines.join('\n')}\n`;
      options = [...kept, `credentials=${credentialsFile}`].join(',');
    }
  }
  return { line: `${fstabField(spec.source)} ${fstabField(spec.target)} ${spec.type} ${options} 0 0\n`, credentials };
}

/**
 * Mounts `spec` for the duration of `fn` and unmounts it afterwards, whatever happens. The mount
 * line goes through a private fstab file (`mount -T`), so options with credentials never
 * appear on mount's argv; CIFS credentials go to the helper in a 0600 credentials file, which
 * is removed once mounted. A target that is already mounted is used as it is and left mounted.
 */
export async function withBackupMount<T>(
  spec: BackupMountSpec | undefined,
  fn: () => Promise<T>,
  deps: { run?: MountRun } = {},
): Promise<T> {
  if (spec === undefined) return fn();
  const exec = deps.run ?? run;
  if (await isMountPoint(spec.target, exec)) return fn();
  await mkdir(spec.target, { recursive: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'appliance-mount-'));
  try {
    const fstab = path.join(dir, 'backup.fstab');
    const credentialsFile = path.join(dir, 'credentials');
    const { line, credentials } = mountLine(spec, credentialsFile);
    if (credentials !== undefined) await writeFile(credentialsFile, credentials, { mode: 0o600 });
    await writeFile(fstab, line, { mode: 0o600 });
    await exec('mount', ['-T', fstab, spec.target], { timeoutMs: 120_000 }).catch((err: unknown) => {
      const exitCode = isAgentError(err) ? err.data['exitCode'] : undefined;
      // mount's message may quote the options, which may hold credentials.
      const why = (err instanceof Error ? err.message : String(err)).replace(/^mount \S+ failed: /, '');
      const safe = maskOptions(why, spec.options);
      throw new AgentError(
        'BackupMountFailed',
        `could not mount the backup target ${spec.target} (${spec.type}): ${safe}`,
        {
          data: { target: spec.target, type: spec.type, exitCode },
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  try {
    return await fn();
  } finally {
    await exec('umount', ['--lazy', spec.target], { okCodes: [0, 32] }).catch(() => undefined);
  }
}

/** Removes the options and each option's value from a text. */
function maskOptions(text: string, options: string | undefined): string {
  if (options === undefined || options === '') return text;
  const values = [options, ...options.split(',').map((o) => o.slice(o.indexOf('=') + 1))].filter((v) => v.length >= 4);
  return values.sort((a, b) => b.length - a.length).reduce((t, v) => t.split(v).join('***'), text);
}

async function isMountPoint(target: string, exec: MountRun): Promise<boolean> {
  const r = await exec('mountpoint', ['-q', target], { okCodes: [0, 1, 32] }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** fstab fields escape blanks as octal. */
function fstabField(value: string): string {
  return value.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011');
}
