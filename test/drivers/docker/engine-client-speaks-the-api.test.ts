import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { DockerApiError, DockerClient } from '../../../agent/drivers/docker/client.ts';
import { connectionFromEnv } from '../../../agent/drivers/docker/engine-http.ts';
import { demuxStream, followProgress } from '../../../agent/drivers/docker/streams.ts';
import { ensureEnv, removeLabelled, TEST_LABEL, type EnvInfo } from '../../../devenv/docker-env.ts';

const label = `engine-client-${process.pid}`;
let env: EnvInfo;
let docker: DockerClient;

before(async () => {
  env = await ensureEnv();
  docker = new DockerClient({ socketPath: env.socketPath });
});

after(async () => {
  await removeLabelled(env, label);
});

function frame(kind: number, text: string): Buffer {
  const body = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = kind;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

async function collect(stream: PassThrough): Promise<string> {
  stream.end();
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('demuxStream splits stdout and stderr frames even when a frame is cut across chunks', async () => {
  const bytes = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err\n'), frame(1, 'out two\n')]);
  const source = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  demuxStream(source, stdout, stderr);
  const cuts = [0, 3, 11, 20, bytes.length];
  for (let i = 1; i < cuts.length; i++) source.write(bytes.subarray(cuts[i - 1], cuts[i]));
  await new Promise((r) => setImmediate(r));
  assert.equal(await collect(stdout), 'out one\nout two\n');
  assert.equal(await collect(stderr), 'err\n');
});

test('followProgress returns every message of a pull, split lines included, and rejects on garbage', async () => {
  const lines = [
    '{"status":"Pulling"}\n{"sta',
    'tus":"Done"}\n',
    '{"error":"denied","errorDetail":{"message":"denied"}}\n',
  ];
  const messages = await followProgress(Readable.from(lines));
  assert.deepEqual(
    messages.map((m) => m.status ?? m.error),
    ['Pulling', 'Done', 'denied'],
  );
  await assert.rejects(followProgress(Readable.from(['{"status":"ok"}\n', 'not json\n'])), SyntaxError);
});

test('connectionFromEnv reads DOCKER_HOST as the docker CLI does', () => {
  assert.deepEqual(connectionFromEnv({}), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(connectionFromEnv({ DOCKER_HOST: 'unix:///run/d.sock' }), { socketPath: '/run/d.sock' });
  assert.deepEqual(connectionFromEnv({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }), {
    host: '10.0.0.5',
    port: 2375,
    protocol: 'http',
  });
  assert.throws(() => connectionFromEnv({ DOCKER_HOST: 'ssh://user@host' }), /DOCKER_HOST ssh:\/\/user@host/);
});

test('an object the engine does not have is a DockerApiError with status 404 and the engine message', async () => {
  await assert.rejects(docker.getContainer(`${label}-missing`).inspect(), (err: unknown) => {
    assert.ok(err instanceof DockerApiError);
    assert.equal(err.statusCode, 404);
    assert.match(err.message, /No such container/i);
    return true;
  });
});

test('a container is created, started, waited for, and its logs and exec output read back', async () => {
  const image = env.images['debian:bookworm'];
  assert.ok(image !== undefined);
  const container = await docker.createContainer({
    name: `${label}-c`,
    Image: image,
    Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; sleep 30'],
    Labels: { [TEST_LABEL]: label },
  });
  await container.start();
  await assert.rejects(container.start(), (err: unknown) => err instanceof DockerApiError && err.statusCode === 304);
  const listed = await docker.listContainers({ filters: { label: [`${TEST_LABEL}=${label}`] } });
  assert.deepEqual(
    listed.map((c) => c.Id),
    [container.id],
  );

  const exec = await container.exec({
    Cmd: ['sh', '-c', 'cat; echo done >&2'],
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  const conn = await exec.start();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  demuxStream(conn, stdout, stderr);
  conn.end('piped in\n');
  await new Promise((r) => conn.once('close', r));
  assert.equal(await collect(stdout), 'piped in\n');
  assert.equal(await collect(stderr), 'done\n');
  assert.equal((await exec.inspect()).ExitCode, 0);

  await container.kill();
  assert.equal((await container.wait()).StatusCode, 137);
  const logs = await container.logs({ stdout: true, stderr: true });
  const out = new PassThrough();
  const err = new PassThrough();
  demuxStream(logs, out, err);
  await new Promise((r) => logs.once('end', r));
  await new Promise((r) => setImmediate(r));
  assert.equal(await collect(out), 'to-out\n');
  assert.equal(await collect(err), 'to-err\n');
  await container.remove({ force: true });
  await assert.rejects(container.inspect(), (e: unknown) => e instanceof DockerApiError && e.statusCode === 404);
});
