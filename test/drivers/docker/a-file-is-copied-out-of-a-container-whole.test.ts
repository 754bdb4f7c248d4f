import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { execInContainer } from '../../../agent/drivers/docker/container-exec.ts';
import { readTarFile } from '../../../agent/drivers/docker/tar-file.ts';
import { isAgentError } from '../../../agent/core/errors.ts';
import { run } from '../../../agent/lib/exec.ts';
import { ensureEnv, removeLabelled, TEST_LABEL, type EnvInfo } from '../../../devenv/docker-env.ts';

const label = `copy-out-${process.pid}`;
let env: EnvInfo;
let docker: DockerClient;
let dir: string;

before(async () => {
  env = await ensureEnv();
  docker = new DockerClient({ socketPath: env.socketPath });
  dir = await mkdtemp(path.join(tmpdir(), 'copy-out-'));
});

after(async () => {
  await removeLabelled(env, label);
  await rm(dir, { recursive: true, force: true });
});

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('a file written in a container is copied out byte for byte through the engine', async () => {
  const container = await docker.createContainer({
    name: `${label}-c`,
    Image: env.images['debian:bookworm'] ?? 'debian:bookworm',
    Cmd: ['sleep', '120'],
    Labels: { [TEST_LABEL]: label },
  });
  await container.start();
  const target = { docker, container: container.id };
  // 40 MiB of random bytes: many chunks, a size that is no multiple of the tar block.
  const made = await execInContainer(target, ['sh', '-c', 'head -c 41943041 /dev/urandom > /tmp/big.bin']);
  assert.equal(made.exitCode, 0, made.stderr);
  const inside = await execInContainer(target, ['sha256sum', '/tmp/big.bin']);
  const out = path.join(dir, 'big.bin');
  const size = await readTarFile(await container.getArchive({ path: '/tmp/big.bin' }), createWriteStream(out));
  assert.equal(size, 41943041);
  assert.equal((await stat(out)).size, size);
  assert.equal(await sha256(out), inside.stdout.split(' ')[0]);

  await assert.rejects(container.getArchive({ path: '/tmp/none.bin' }), (err: unknown) => {
    return (err as { statusCode?: number }).statusCode === 404;
  });
});

test('a long name read from a PAX header, and a cut archive is an error, not a short file', async () => {
  const name = `${'n'.repeat(150)}.bin`;
  await writeFile(path.join(dir, name), 'the content\n');
  const tar = path.join(dir, 'pax.tar');
  await run('tar', ['--format=pax', '-C', dir, '-cf', tar, name]);
  const bytes = await readFile(tar);
  const out = path.join(dir, 'out.txt');
  const whole = new PassThrough();
  whole.end(bytes);
  assert.equal(await readTarFile(whole, createWriteStream(out)), 12);
  assert.equal(await readFile(out, 'utf8'), 'the content\n');

  const cut = new PassThrough();
  // The headers and 3 bytes of the file.
  const dataAt = bytes.indexOf('the content');
  cut.end(bytes.subarray(0, dataAt + 3));
  await assert.rejects(readTarFile(cut, createWriteStream(path.join(dir, 'cut.txt'))), (err: unknown) =>
    isAgentError(err, 'ContainerArchiveInvalid'),
  );
});
