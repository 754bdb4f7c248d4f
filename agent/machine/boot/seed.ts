import { lstat, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { AgentError } from '../../core/errors.ts';
import { writeFileAtomic } from '../../lib/atomic-write.ts';
import { run } from '../../lib/exec.ts';
import { readRegularFile } from '../../lib/fs.ts';

/** The only directory the first boot writes seed files to. */
export const SEED_TARGET_DIR = '/etc/appliance/';

export interface SeedFileEntry {
  path: string;
  content: string;
}

/** The NoCloud seed device (ISO labelled `cidata`), or undefined when none is attached. */
export async function findSeedDevice(): Promise<string | undefined> {
  const { stdout, exitCode } = await run('blkid', ['-t', 'LABEL=cidata', '-o', 'device'], {
    okCodes: [0, 2],
    timeoutMs: 30_000,
  });
  return exitCode === 0 ? stdout.split('\n').find((l) => l !== '') : undefined;
}

/**
 * The seed's user-data, read from the ISO with xorriso into a private directory: no mount, so
 * it works where the kernel has no iso9660 module, and nothing is left mounted.
 */
export async function readSeedUserData(device: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'appliance-seed-'));
  try {
    const out = join(dir, 'user-data');
    await run('xorriso', ['-osirrox', 'on', '-indev', `stdio:${device}`, '-extract', '/user-data', out], {
      timeoutMs: 60_000,
    });
    return await readRegularFile(out, { maxBytes: 1024 * 1024 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The files the seed's user-data writes under /etc/appliance/ (`write_files`). Errors never quote
 * the text: it holds the age identity.
 */
export function parseSeedUserData(text: string): SeedFileEntry[] {
  const invalid = (why: string): AgentError =>
    new AgentError('SeedUserDataInvalid', `the seed's user-data is malformed: ${why}`, { terminal: true });
  if (!text.startsWith('#cloud-config')) throw invalid('it does not start with #cloud-config');
  const doc = parseDocument(text, { uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) throw invalid(`YAML error at line ${first.linePos?.[0].line ?? '?'} (${first.code})`);
  const root: unknown = doc.toJS();
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw invalid('it is not a YAML mapping');
  const files = (root as { write_files?: unknown }).write_files;
  if (files === undefined) return [];
  if (!Array.isArray(files)) throw invalid('write_files is not a list');
  const out: SeedFileEntry[] = [];
  for (const [i, f] of (files as unknown[]).entries()) {
    const { path, content, encoding } = (f ?? {}) as { path?: unknown; content?: unknown; encoding?: unknown };
    if (typeof path !== 'string' || typeof content !== 'string')
      throw invalid(`write_files[${i}] needs a path and a content string`);
    if (!path.startsWith(SEED_TARGET_DIR) || path.split('/').includes('..')) continue;
    if (encoding !== undefined && (typeof encoding !== 'string' || !['b64', 'base64', 'text/plain'].includes(encoding)))
      throw invalid(`write_files[${i}] has an encoding the agent does not read`);
    const text =
      encoding === 'b64' || encoding === 'base64' ? Buffer.from(content, 'base64').toString('utf8') : content;
    out.push({ path, content: text });
  }
  return out;
}

/** Writes the seed's files, each 0600 in a 0700 directory (the agent's own copies). */
export async function installSeedFiles(files: readonly SeedFileEntry[], root = '/'): Promise<void> {
  for (const f of files) {
    const target = join(root, f.path);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    await writeFileAtomic(target, f.content, { mode: 0o600 });
  }
}

/**
 * Removes cloud-init's cached copies of the user-data (it holds the age identity): the raw and
 * processed user-data and the pickled datasource of every instance. Returns what was removed.
 */
export async function removeCloudInitCopies(cloudDir = '/var/lib/cloud'): Promise<string[]> {
  const removed: string[] = [];
  const instances = await readdir(join(cloudDir, 'instances')).catch(() => [] as string[]);
  const dirs = [join(cloudDir, 'instance'), ...instances.map((i) => join(cloudDir, 'instances', i))];
  for (const dir of dirs)
    for (const name of ['user-data.txt', 'user-data.txt.i', 'obj.pkl']) {
      const file = join(dir, name);
      if (
        !(await lstat(file).then(
          (st) => st.isFile(),
          () => false,
        ))
      )
        continue;
      await rm(file, { force: true });
      removed.push(file);
    }
  return removed;
}
