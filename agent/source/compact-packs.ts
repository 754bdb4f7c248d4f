import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { AgentError } from '../core/errors.ts';
import type { GitFs } from './tree-reader.ts';

/** What {@link compactPacks} did. */
export interface CompactResult {
  /** Packs before; 0 when there was nothing to do. */
  packs: number;
  objects: number;
  /** The pack that holds them all now. */
  pack?: string;
}

/**
 * Rewrites the packs of a bare store into one when there are `minPacks` or more. Each fetch
 * adds a pack and isomorphic-git never merges them, so a long-lived appliance would gather one
 * per accepted commit: every object lookup then walks all their indexes, and each index loaded
 * stays in the pack cache. The new pack and its index are complete before an old one goes, so a
 * crash leaves duplicates at worst. Old packs are deleted: run this only while no reader of the
 * store is alive (the source does it on its first sync).
 */
export async function compactPacks(fs: GitFs, gitdir: string, minPacks: number): Promise<CompactResult> {
  const dir = join(gitdir, 'objects', 'pack');
  const names = await readdir(dir).catch(() => [] as string[]);
  const indexes = names.filter((n) => n.endsWith('.idx'));
  if (indexes.length < minPacks) return { packs: 0, objects: 0 };
  const oids = new Set<string>();
  for (const idx of indexes) for (const oid of packIndexOids(await readFile(join(dir, idx)), idx)) oids.add(oid);
  const { filename } = await git.packObjects({ fs, gitdir, oids: [...oids], write: true });
  await git.indexPack({ fs, dir: gitdir, gitdir, filepath: join('objects', 'pack', filename) });
  const kept = filename.replace(/\.pack$/, '');
  for (const idx of indexes) {
    const base = idx.replace(/\.idx$/, '');
    if (base === kept) continue;
    // The index first: a pack without one is never read.
    await rm(join(dir, idx), { force: true });
    await rm(join(dir, `${base}.pack`), { force: true });
  }
  return { packs: indexes.length, objects: oids.size, pack: filename };
}

/** The object ids listed in a version 2 pack index (magic, version, fan-out table, then the ids). */
export function packIndexOids(idx: Buffer, name: string): string[] {
  if (idx.length < 8 + 256 * 4 || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) {
    throw new AgentError('SourceCorrupt', `${name} is not a version 2 pack index`, { data: { pack: name } });
  }
  const count = idx.readUInt32BE(8 + 255 * 4);
  const start = 8 + 256 * 4;
  if (idx.length < start + count * 20)
    throw new AgentError('SourceCorrupt', `${name} is truncated`, { data: { pack: name } });
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(idx.toString('hex', start + i * 20, start + (i + 1) * 20));
  return out;
}
