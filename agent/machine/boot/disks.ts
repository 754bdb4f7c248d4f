import { mkdir, open, statfs } from 'node:fs/promises';
import { DATA_LABEL, type DiskInfo, type StoragePlan } from '../../core/boot-storage.ts';
import { AgentError } from '../../core/errors.ts';
import { run } from '../../lib/exec.ts';

/** Floppy drives show as disks (qemu's pc machine has one, with no medium). */
const FLOPPY = /^\/dev\/fd\d+$/;

interface LsblkDevice {
  path: string;
  type: string;
  size: number | string;
  ro: boolean | string;
  mountpoints?: (string | null)[];
  children?: LsblkDevice[];
}

/**
 * The whole disks that could hold data: not read-only, not the disk the system runs from (one
 * with a mounted partition), not the seed ISO (a `rom`). `only` limits the search to those
 * devices (tests use loop devices).
 */
export async function findDataDisks(only?: readonly string[]): Promise<DiskInfo[]> {
  const args = ['-J', '-b', '-o', 'PATH,TYPE,SIZE,RO,MOUNTPOINTS', ...(only ?? [])];
  const { stdout } = await run('lsblk', args, { timeoutMs: 30_000 });
  const devices = (JSON.parse(stdout) as { blockdevices: LsblkDevice[] }).blockdevices;
  const disks: DiskInfo[] = [];
  for (const d of devices) {
    if (only === undefined && (d.type !== 'disk' || FLOPPY.test(d.path))) continue;
    if (d.ro === true || d.ro === '1' || mounted(d) || Number(d.size) === 0) continue;
    // A device that cannot be read is no candidate (and never a reason to stop looking).
    const found = await probe(d.path).catch(() => undefined);
    if (found === undefined) continue;
    disks.push({ path: d.path, sizeBytes: Number(d.size), hasChildren: (d.children ?? []).length > 0, ...found });
  }
  return disks;
}

function mounted(d: LsblkDevice): boolean {
  return (d.mountpoints ?? []).some((m) => m !== null) || (d.children ?? []).some(mounted);
}

/** Signatures read from the device itself (`blkid -p`): lsblk's come from udev, absent in early boot. */
async function probe(path: string): Promise<{ signature?: string; label?: string }> {
  const { stdout, exitCode } = await run('blkid', ['-p', '-o', 'export', path], { okCodes: [0, 2], timeoutMs: 30_000 });
  // No signature blkid knows: blank only when its first MiB is zeros (else unknown data).
  if (exitCode === 2) return (await startsBlank(path)) ? {} : { signature: 'data of an unknown kind' };
  const values = Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => l.split('=', 2))
      .filter((kv): kv is [string, string] => kv.length === 2),
  );
  const signature =
    values['TYPE'] ??
    (values['PTTYPE'] === undefined ? 'an unknown signature' : `a ${values['PTTYPE']} partition table`);
  return { signature, ...(values['LABEL'] === undefined ? {} : { label: values['LABEL'] }) };
}

async function startsBlank(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).every((b) => b === 0);
  } finally {
    await fh.close();
  }
}

/** Makes (when planned) and mounts the data filesystem at `mountPoint`; returns the btrfs data profile. */
export async function applyStoragePlan(
  plan: Exclude<StoragePlan, { action: 'none' }>,
  mountPoint: string,
): Promise<{ profile: string }> {
  if (plan.action === 'create') {
    const raid = plan.raid1 ? ['-d', 'raid1', '-m', 'raid1'] : [];
    await run('mkfs.btrfs', ['-q', '-L', DATA_LABEL, ...raid, ...plan.devices], { timeoutMs: 120_000 });
  }
  // A multi-device btrfs mounts only once the kernel knows all its devices (udev does this later).
  await run('btrfs', ['device', 'scan', ...plan.devices], { timeoutMs: 60_000 });
  await mkdir(mountPoint, { recursive: true, mode: 0o755 });
  const first = plan.devices[0];
  if (first === undefined) throw new AgentError('StorageNoDevice', 'no device to mount');
  await run('mount', ['-t', 'btrfs', '-o', 'noatime', first, mountPoint], { timeoutMs: 60_000 });
  const { stdout } = await run('btrfs', ['filesystem', 'df', mountPoint], { timeoutMs: 30_000 });
  return { profile: /^Data, (\w+)/m.exec(stdout)?.[1]?.toLowerCase() ?? 'unknown' };
}

/** True when `path` is a mount point of its own (an operator-prepared data filesystem). */
export async function isMountPoint(path: string): Promise<boolean> {
  const { exitCode } = await run('mountpoint', ['-q', path], { okCodes: [0, 1, 32], timeoutMs: 10_000 });
  return exitCode === 0;
}

/** Bytes free for new data on the filesystem holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const st = await statfs(path);
  return st.bavail * st.bsize;
}
