import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStreaming } from '../agent/lib/exec.ts';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** What goes into the image: a change to any of these makes a new one. */
const INPUTS = ['packer', 'scripts/install.sh', 'agent', 'schema', 'bin', 'package.json', 'package-lock.json'];
const SKIP = new Set(['output', 'packer_cache', 'node_modules']);

export function imageCacheDir(): string {
  return process.env['APPLIANCE_IMAGE_CACHE'] ?? '/var/cache/appliance-image';
}

/** A hash of the image's inputs (file names and contents). */
export async function imageKey(): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (path: string): Promise<void> => {
    const entries = await readdir(path, { withFileTypes: true }).catch(() => undefined);
    if (entries === undefined) {
      hash
        .update(relative(projectRoot, path))
        .update('\0')
        .update(await readFile(path))
        .update('\0');
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name)))
      if (!SKIP.has(e.name)) await walk(join(path, e.name));
  };
  for (const input of INPUTS) await walk(join(projectRoot, input));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The appliance image for the current sources: built by packer/build.sh on first use (as root;
 * ~10 min under TCG, the rootfs cached apart), then reused until an input changes. Returns the
 * path of its qcow2. APPLIANCE_IMAGE names a qcow2 to use instead.
 */
export async function ensureImage(progress: (line: string) => void = () => undefined): Promise<string> {
  // An image built apart (by hand, or from other sources), taken as it is.
  const given = process.env['APPLIANCE_IMAGE'];
  if (given !== undefined && given !== '') return given;
  const key = await imageKey();
  const images = join(imageCacheDir(), 'images');
  const dir = join(images, key);
  const qcow2 = join(dir, 'appliance.qcow2');
  const ok = await access(join(dir, 'complete')).then(
    () => true,
    () => false,
  );
  if (ok) return qcow2;
  for (const old of await readdir(images).catch(() => [] as string[]))
    if (old !== key && !old.startsWith('.')) await rm(join(images, old), { recursive: true, force: true });
  progress(`building the appliance image ${key} (packer/build.sh)`);
  // The build logs its stages on stderr: read them as they come. One build at a time (flock):
  // a second caller waits, then finds the image complete.
  const build = `[ -e "$1/complete" ] || bash "$0" "$1" 2>&1`;
  await mkdir(images, { recursive: true });
  await runStreaming(
    'flock',
    [join(images, '.build.lock'), 'bash', '-c', build, join(projectRoot, 'packer', 'build.sh'), dir],
    {
      timeoutMs: 40 * 60_000,
      onLine: progress,
    },
  );
  if (!existsSync(join(dir, 'complete'))) await writeFile(join(dir, 'complete'), `${new Date().toISOString()}\n`);
  return qcow2;
}
