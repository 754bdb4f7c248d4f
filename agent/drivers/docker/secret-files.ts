import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DesiredSecretFile } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';

/** A secret file on the host and where the container sees it. */
export interface SecretMount {
  source: string;
  target: string;
}

/**
 * Directory of one container's secret files: `<stateDir>/secrets/<owner>/<service>/<hash>`. One
 * per spec hash, so a replace writes the new files beside the old ones and a rollback finds
 * the old ones untouched.
 */
export function secretDir(stateDir: string, owner: string, service: string, specHash: string): string {
  return path.join(stateDir, 'secrets', owner, service, specHash.slice(0, 16));
}

/**
 * Writes each secret file (0600, owned by its `uid:gid`) into `dir` (0700) for a read-only bind
 * mount: secrets never go into command lines, labels or image layers.
 */
export async function writeSecretFiles(dir: string, files: readonly DesiredSecretFile[]): Promise<SecretMount[]> {
  if (files.length === 0) return [];
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const mounts: SecretMount[] = [];
  for (const [i, f] of files.entries()) {
    const { uid, gid } = parseOwner(f.owner, f.target);
    const source = path.join(dir, `${i}-${path.basename(f.target).replace(/[^A-Za-z0-9._-]/g, '_')}`);
    await writeFileAtomic(source, f.value.value, { mode: 0o600 });
    await chown(source, uid, gid);
    mounts.push({ source, target: f.target });
  }
  return mounts;
}

/** Removes a container's secret directory. */
export async function removeSecretDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

function parseOwner(owner: string, target: string): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(owner);
  if (m === null) {
    throw new AgentError('SecretFileOwnerInvalid', `secret file ${target}: owner must be numeric uid:gid`, {
      terminal: true,
      data: { target, owner },
    });
  }
  return { uid: Number(m[1]), gid: Number(m[2]) };
}
