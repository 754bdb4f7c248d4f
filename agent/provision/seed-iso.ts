import { chmod, mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { run } from '../lib/exec.ts';

/** A file put at the root of the seed ISO beside user-data and meta-data (e.g. network-config). */
export interface SeedIsoFile {
  name: string;
  data: string | Uint8Array;
}

export interface BuildSeedIsoOptions {
  /** cloud-init user-data (e.g. from renderUserData). */
  userData: string;
  /** NoCloud meta-data (e.g. from renderMetaData); must carry an instance-id. */
  metaData: string;
  extraFiles?: readonly SeedIsoFile[];
  /** Where the ISO is written (mode 0600: it holds secrets). */
  out: string;
  /** Parent of the private staging directory (default: the OS temp dir). */
  tmpDir?: string;
  /** The xorriso binary (default: `xorriso` on PATH). */
  xorriso?: string;
  signal?: AbortSignal;
}

/** The volume label cloud-init's NoCloud datasource looks for. */
export const SEED_VOLUME_ID = 'cidata';

const RESERVED = new Set(['user-data', 'meta-data']);

/**
 * Builds a cloud-init NoCloud seed: an ISO 9660 image labelled `cidata` with Joliet and Rock
 * Ridge, holding `user-data`, `meta-data` and any extra files. The files are staged 0600 in a
 * private 0700 directory that is removed afterwards, also on failure.
 */
export async function buildSeedIso(options: BuildSeedIsoOptions): Promise<void> {
  if (!/^instance-id\s*:/m.test(options.metaData))
    throw new AgentError('SeedMetaDataInvalid', 'meta-data has no instance-id (cloud-init NoCloud needs one)', {
      terminal: true,
    });
  const extra = options.extraFiles ?? [];
  const names = new Set<string>();
  for (const f of extra) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(f.name) || RESERVED.has(f.name) || names.has(f.name))
      throw new AgentError('SeedFileInvalid', `extra seed file name '${f.name}' is invalid or used twice`, {
        terminal: true,
        data: { name: f.name },
      });
    names.add(f.name);
  }

  // mkdtemp creates the directory 0700, so the staged secrets are private from the start.
  const stage = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'appliance-seed-'));
  try {
    const root = join(stage, 'root');
    await mkdir(root, { mode: 0o700 });
    await writePrivate(join(root, 'user-data'), options.userData);
    await writePrivate(join(root, 'meta-data'), options.metaData);
    for (const f of extra) await writePrivate(join(root, f.name), f.data);
    const iso = join(stage, 'seed.iso');
    await run(
      options.xorriso ?? 'xorriso',
      ['-as', 'mkisofs', '-quiet', '-output', iso, '-volid', SEED_VOLUME_ID, '-joliet', '-rock', root],
      { timeoutMs: 120_000, ...(options.signal === undefined ? {} : { signal: options.signal }) },
    );
    await chmod(iso, 0o600);
    await writeFileAtomic(options.out, await readFile(iso), { mode: 0o600 });
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function writePrivate(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'wx', 0o600);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}
