import { chmod, chown, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerInspect } from '../docker/client.ts';

/** A host directory the database container sees at `target`. */
export interface DumpDir {
  hostPath: string;
  target: string;
}

/**
 * Readies the dump directory for a dump: emptied (what a killed backup left), 0700 and owned by
 * the user `docker exec` runs as in the container, so pg_dump writes there and nobody else reads.
 * Undefined when the dump cannot go there: the container does not mount it (created before the
 * agent added the mount), runs as a named user whose ids the host does not know, or the
 * directory cannot be given to that user.
 */
export async function readyDumpDir(dir: DumpDir, info: ContainerInspect): Promise<string | undefined> {
  const host = path.resolve(dir.hostPath);
  const mounted = (info.Mounts ?? []).some(
    (m) => m.Type === 'bind' && path.resolve(m.Source) === host && m.Destination === dir.target && m.RW,
  );
  const ids = execIds(info.Config.User ?? '');
  if (!mounted || ids === undefined) return undefined;
  try {
    if (!(await stat(host)).isDirectory()) return undefined;
    await chmod(host, 0o700);
    await chown(host, ids.uid, ids.gid);
    await emptyDumpDir(host);
  } catch {
    return undefined;
  }
  return host;
}

/** Removes everything in the dump directory (it stays: the container mounts it). */
export async function emptyDumpDir(hostPath: string): Promise<void> {
  for (const name of await readdir(hostPath)) await rm(path.join(hostPath, name), { recursive: true, force: true });
}

/** uid and gid of a container's `User` when numeric or root (empty: the image's default, root). */
function execIds(user: string): { uid: number; gid: number } | undefined {
  if (user === '' || user === 'root') return { uid: 0, gid: 0 };
  const m = /^(\d+)(?::(\d+))?$/.exec(user);
  if (m === null) return undefined;
  const uid = Number(m[1]);
  return { uid, gid: m[2] === undefined ? uid : Number(m[2]) };
}
