import { Writable } from 'node:stream';
import { manifestProblem, SNAPSHOT_LAYOUT, type BackupManifest } from '../core/backup-manifest.ts';
import { applianceTag } from '../core/backup-target.ts';
import { AgentError } from '../core/errors.ts';
import { withBackupMount } from '../drivers/restic/mount.ts';
import { tagValue } from '../drivers/restic/output.ts';
import type { Restic } from '../drivers/restic/restic.ts';
import { requireRestic, type BackupContext } from './context.ts';

/** One backup of the appliance in the repository. */
export interface BackupListing {
  id: string;
  shortId: string;
  time: string;
  host: string;
  revision?: string;
  tags: string[];
}

/** The appliance's snapshots (tag `appliance=<name>`), oldest first. */
export async function listBackups(ctx: BackupContext, options: { mustExist?: boolean } = {}): Promise<BackupListing[]> {
  const restic = requireRestic(ctx);
  const snaps = await withBackupMount(ctx.target.repository?.mount, async () => {
    if (await restic.exists()) return restic.snapshots({ tags: [applianceTag(ctx.target.appliance)] });
    // An operator listing backups must not read "no backups" when the repository is not there.
    if (options.mustExist === true) {
      throw new AgentError(
        'BackupRepositoryMissing',
        'the backup repository (env.yml backup.repository) does not exist: no backup was ever made there, or it is the wrong place',
        { terminal: true },
      );
    }
    return [];
  });
  return snaps.map((s) => {
    const listing: BackupListing = { id: s.id, shortId: s.shortId, time: s.time, host: s.hostname, tags: s.tags };
    const revision = tagValue(s.tags, 'revision');
    if (revision !== undefined) listing.revision = revision;
    return listing;
  });
}

/** The snapshot `id` (full or a unique prefix), or the latest; `BackupSnapshotMissing` otherwise. */
export async function resolveSnapshot(ctx: BackupContext, id?: string): Promise<BackupListing> {
  const all = await listBackups(ctx);
  if (id === undefined || id === 'latest') {
    const latest = all.at(-1);
    if (latest === undefined) {
      throw new AgentError('BackupSnapshotMissing', `the repository has no backup of ${ctx.target.appliance}`, {
        data: { appliance: ctx.target.appliance },
      });
    }
    return latest;
  }
  const matches = all.filter((s) => s.id.startsWith(id));
  if (matches.length !== 1) {
    throw new AgentError(
      'BackupSnapshotMissing',
      matches.length === 0
        ? `no backup ${id} of ${ctx.target.appliance} in the repository`
        : `${id} matches ${matches.length} backups; give more of the id`,
      { data: { snapshot: id, matches: matches.length } },
    );
  }
  return matches[0] as BackupListing;
}

/** Reads and checks a snapshot's `/manifest.json`. */
export async function readManifest(restic: Restic, snapshot: string): Promise<BackupManifest> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await restic.dump(snapshot, SNAPSHOT_LAYOUT.manifest, sink);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    value = undefined;
  }
  const problem = manifestProblem(value);
  if (problem !== undefined) {
    throw new AgentError('BackupManifestInvalid', `snapshot ${snapshot} has no valid manifest: ${problem}`, {
      data: { snapshot },
    });
  }
  return value as BackupManifest;
}
