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

/**
 * Mounts `spec` for the duration of `fn` and unmounts it afterwards, whatever happens. The mount
 * line goes through a private fstab file (`mount -T`), so options with credentials never
 * appear on argv. A target that is already mounted is used as it is and left mounted.
 */
export async function withBackupMount<T>(spec: BackupMountSpec | undefined, fn: () => Promise<T>): Promise<T> {
  if (spec === undefined) return fn();
  if (await isMountPoint(spec.target)) return fn();
  await mkdir(spec.target, { recursive: true });
  const dir = await mkdtemp(path.join(tmpdir(), 'appliance-mount-'));
  try {
    const fstab = path.join(dir, 'backup.fstab');
    const options = spec.options === undefined || spec.options === '' ? 'defaults' : spec.options;
    await writeFile(fstab, `${fstabField(spec.source)} ${fstabField(spec.target)} ${spec.type} ${options} 0 0\n`, {
      mode: 0o600,
    });
    await run('mount', ['-T', fstab, spec.target], { timeoutMs: 120_000 }).catch((err: unknown) => {
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
    await run('umount', ['--lazy', spec.target], { okCodes: [0, 32] }).catch(() => undefined);
  }
}

/** Removes the options and each option's value from a text. */
function maskOptions(text: string, options: string | undefined): string {
  if (options === undefined || options === '') return text;
  const values = [options, ...options.split(',').map((o) => o.slice(o.indexOf('=') + 1))].filter((v) => v.length >= 4);
  return values.sort((a, b) => b.length - a.length).reduce((t, v) => t.split(v).join('***'), text);
}

async function isMountPoint(target: string): Promise<boolean> {
  const r = await run('mountpoint', ['-q', target], { okCodes: [0, 1, 32] }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** fstab fields escape blanks as octal. */
function fstabField(value: string): string {
  return value.replace(/\\/g, '\\134').replace(/ /g, '\\040').replace(/\t/g, '\\011');
}
