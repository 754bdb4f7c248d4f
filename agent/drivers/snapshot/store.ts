import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotInfo, SnapshotKind } from '../../core/actual.ts';
import { AgentError } from '../../core/errors.ts';
import type { SnapshotVolume } from '../../core/steps.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { snapshotName, type SnapshotDriver, type SnapshotRequest } from './driver.ts';
import { exists, renameIfThere, volumeOpsFor, type VolumeOps } from './volume-ops.ts';

const DIR = '.snapshots';
const META = 'snapshot.json';
const KINDS: readonly SnapshotKind[] = ['PRE_MIGRATE', 'PRE_RESTORE', 'CLONE', 'BACKUP'];

/**
 * The snapshot driver for the filesystem the data path is on: btrfs when it is btrfs, plain
 * copies otherwise.
 */
export async function openSnapshots(root: string): Promise<SnapshotDriver> {
  return new SnapshotStore(root, await volumeOpsFor(root));
}

/**
 * Snapshots as directories under `<root>/.snapshots/`. A snapshot is made in a temporary
 * directory and renamed into place with its metadata, so a crash never leaves a half snapshot
 * that `list` shows; deletion renames it away first for the same reason.
 */
export class SnapshotStore implements SnapshotDriver {
  readonly kind: 'btrfs' | 'copy';

  constructor(
    readonly root: string,
    private readonly ops: VolumeOps,
  ) {
    this.kind = ops.kind;
  }

  private get dir(): string {
    return path.join(this.root, DIR);
  }

  async consistentWhileRunning(volumes: readonly SnapshotVolume[]): Promise<boolean> {
    for (const v of volumes) if ((await exists(v.hostPath)) && !(await this.ops.isAtomic(v.hostPath))) return false;
    return true;
  }

  async createVolume(hostPath: string): Promise<void> {
    this.checkInside(hostPath);
    await this.ops.makeVolume(hostPath);
  }

  async list(): Promise<SnapshotInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: SnapshotInfo[] = [];
    for (const name of names.filter((n) => !n.startsWith('.'))) {
      const info = await this.readMeta(name);
      if (info !== undefined) out.push(info);
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
  }

  async create(req: SnapshotRequest): Promise<SnapshotInfo> {
    const taken = new Set((await this.list()).map((s) => s.name));
    const base = snapshotName(req.kind, req.now);
    let name = base;
    for (let i = 2; taken.has(name) || (await exists(path.join(this.dir, name))); i++) name = `${base}-${i}`;
    const tmp = path.join(this.dir, `.tmp-${name}-${randomBytes(3).toString('hex')}`);
    const readOnly = req.readOnly ?? true;
    const volumes: string[] = [];
    try {
      await mkdir(tmp, { recursive: true, mode: 0o700 });
      for (const v of req.volumes) {
        this.checkInside(v.hostPath);
        if (!(await exists(v.hostPath))) continue;
        await this.ops.copy(v.hostPath, path.join(tmp, v.volume), readOnly);
        volumes.push(v.volume);
      }
      const info: SnapshotInfo = {
        name,
        kind: req.kind,
        createdAt: req.now.toISOString(),
        volumes,
        readOnly,
        ...(req.revision === undefined ? {} : { revision: req.revision }),
        ...(req.appImage === undefined ? {} : { appImage: req.appImage }),
      };
      await writeFileAtomic(path.join(tmp, META), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, path.join(this.dir, name));
      return info;
    } catch (err) {
      await this.ops.remove(tmp).catch(() => undefined);
      throw new AgentError('SnapshotFailed', `snapshot ${name} of ${this.root}: ${(err as Error).message}`, {
        cause: err,
        data: { snapshot: name, root: this.root },
      });
    }
  }

  async clone(name: string, targets: readonly SnapshotVolume[]): Promise<void> {
    await this.mustGet(name);
    for (const t of targets) {
      if (await exists(t.hostPath)) continue;
      await this.ops.copy(path.join(this.dir, name, t.volume), t.hostPath, false);
    }
  }

  async swapIn(name: string, volumes: readonly SnapshotVolume[], trashId: string): Promise<void> {
    const info = await this.mustGet(name);
    const trash = this.trashDir(trashId);
    await mkdir(trash, { recursive: true, mode: 0o700 });
    for (const v of volumes) {
      if (!info.volumes.includes(v.volume)) continue;
      this.checkInside(v.hostPath);
      const aside = path.join(trash, v.volume);
      if (!(await exists(aside))) await renameIfThere(v.hostPath, aside);
      if (await exists(v.hostPath)) continue;
      // Made beside the target and renamed into place, so a crash leaves either nothing or all of it.
      const incoming = path.join(trash, `${v.volume}.incoming`);
      await this.ops.remove(incoming);
      await this.ops.copy(path.join(this.dir, name, v.volume), incoming, false);
      await rename(incoming, v.hostPath);
    }
  }

  async swapBack(volumes: readonly SnapshotVolume[], trashId: string): Promise<void> {
    const trash = this.trashDir(trashId);
    for (const v of volumes) {
      const aside = path.join(trash, v.volume);
      if (!(await exists(aside))) continue;
      await this.ops.remove(v.hostPath);
      await rename(aside, v.hostPath);
    }
    await this.dropTrash(trashId);
  }

  async dropTrash(trashId: string): Promise<void> {
    const trash = this.trashDir(trashId);
    if (!(await exists(trash))) return;
    for (const entry of await readdir(trash)) await this.ops.remove(path.join(trash, entry));
    await this.ops.remove(trash);
  }

  async delete(name: string): Promise<boolean> {
    const from = path.join(this.dir, name);
    const doomed = path.join(this.dir, '.deleting', `${name}-${randomBytes(3).toString('hex')}`);
    try {
      await mkdir(path.dirname(doomed), { recursive: true });
      await rename(from, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await this.removeSnapshotDir(doomed);
    return true;
  }

  /** Removes what interrupted deletions and snapshots left (never a restore's trash: recovery needs it). */
  async sweep(): Promise<void> {
    const deleting = path.join(this.dir, '.deleting');
    if (await exists(deleting)) {
      for (const entry of await readdir(deleting)) await this.removeSnapshotDir(path.join(deleting, entry));
    }
    if (!(await exists(this.dir))) return;
    for (const entry of await readdir(this.dir)) {
      if (entry.startsWith('.tmp-')) await this.removeSnapshotDir(path.join(this.dir, entry));
    }
  }

  private async removeSnapshotDir(dir: string): Promise<void> {
    if (!(await exists(dir))) return;
    for (const entry of await readdir(dir)) await this.ops.remove(path.join(dir, entry));
    await this.ops.remove(dir);
  }

  private trashDir(trashId: string): string {
    if (!/^[A-Za-z0-9._:-]+$/.test(trashId)) throw new AgentError('SnapshotTrashInvalid', `bad trash id ${trashId}`);
    return path.join(this.dir, '.trash', trashId);
  }

  private async mustGet(name: string): Promise<SnapshotInfo> {
    const info = await this.readMeta(name);
    if (info === undefined) {
      throw new AgentError('SnapshotNotFound', `snapshot ${name} is not under ${this.dir}`, {
        terminal: true,
        data: { snapshot: name, root: this.root },
      });
    }
    return info;
  }

  private async readMeta(name: string): Promise<SnapshotInfo | undefined> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(name)) return undefined;
    let text: string;
    try {
      text = await readFile(path.join(this.dir, name, META), 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    try {
      const info = JSON.parse(text) as SnapshotInfo;
      return info.name === name && KINDS.includes(info.kind) ? info : undefined;
    } catch {
      return undefined;
    }
  }

  private checkInside(hostPath: string): void {
    const rel = path.relative(this.root, hostPath);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel) || rel.split(path.sep)[0] === DIR) {
      throw new AgentError('VolumeOutsideDataPath', `${hostPath} is not a volume under the data path ${this.root}`, {
        terminal: true,
        data: { hostPath, root: this.root },
      });
    }
  }
}
