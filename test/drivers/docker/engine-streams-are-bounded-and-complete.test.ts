import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { DockerClient } from '../../../agent/drivers/docker/client.ts';
import { ENGINE_API_VERSION } from '../../../agent/drivers/docker/engine-http.ts';
import { demuxStream, followProgress, readOutputTail } from '../../../agent/drivers/docker/streams.ts';

function frame(kind: number, data: Buffer | string): Buffer {
  const body = Buffer.from(data);
  const head = Buffer.alloc(8);
  head[0] = kind;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

test('a log read keeps only the end of each stream, however much the command printed', async () => {
  const source = new PassThrough();
  const reading = readOutputTail(source, 1024);
  for (let i = 0; i < 2000; i++) source.write(frame(1, `line ${String(i).padStart(5, '0')} ${'x'.repeat(500)}\n`));
  source.write(frame(2, 'short error\n'));
  source.end(frame(1, 'the last line\n'));
  const out = await reading;
  assert.equal(out.truncated, true);
  assert.ok(out.stdout.startsWith('…'));
  assert.ok(out.stdout.endsWith('the last line\n'));
  assert.ok(Buffer.byteLength(out.stdout) <= 1024 + 3, `kept ${Buffer.byteLength(out.stdout)} bytes`);
  assert.equal(out.stderr, 'short error\n');
});

test('a slow consumer pauses the engine stream instead of buffering it, and loses nothing', async () => {
  const source = new PassThrough();
  const received: Buffer[] = [];
  let mostQueued = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, done) {
      received.push(chunk);
      setTimeout(done, 1);
    },
  });
  demuxStream(source, slow, new PassThrough());
  const frames = Array.from({ length: 50 }, (_, i) => frame(1, `${String(i).padStart(3, '0')}${'y'.repeat(4096)}`));
  for (const f of frames) {
    source.write(f);
    mostQueued = Math.max(mostQueued, slow.writableLength);
    await new Promise((r) => setImmediate(r));
  }
  source.end();
  await new Promise((r) => source.once('end', r));
  await new Promise<void>((r) => {
    slow.end(r);
  });
  // Without backpressure all 50 frames (200 KiB) would queue in the consumer.
  assert.ok(mostQueued <= 2 * (3 + 4096), `the consumer had ${mostQueued} bytes queued`);
  const all = Buffer.concat(received).toString();
  assert.equal(all.length, 50 * (3 + 4096));
  assert.equal(all.slice(0, 3), '000');
  assert.equal(all.slice(-4099, -4096), '049');
});

test('many small frames refused by a full consumer wait on one drain listener, not one each', async () => {
  const source = new PassThrough();
  let received = 0;
  let mostListeners = 0;
  const slow = new Writable({
    highWaterMark: 16,
    write(chunk: Buffer, _enc, done) {
      received += chunk.length;
      mostListeners = Math.max(mostListeners, slow.listenerCount('drain'));
      setTimeout(done, 1);
    },
  });
  demuxStream(source, slow, new PassThrough());
  // 200 frames in ONE chunk: each is refused once the consumer is full.
  source.end(Buffer.concat(Array.from({ length: 200 }, () => frame(1, 'z'.repeat(32)))));
  await new Promise((r) => source.once('end', r));
  await new Promise<void>((r) => {
    slow.end(r);
  });
  assert.equal(received, 200 * 32);
  assert.ok(mostListeners <= 1, `the consumer had ${mostListeners} drain listeners at once`);
});

test('a pull whose progress stream closes before its end is an error, not success', async () => {
  const source = new PassThrough();
  const following = followProgress(source);
  source.write('{"status":"Pulling fs layer"}\n');
  await new Promise((r) => setImmediate(r));
  source.destroy();
  await assert.rejects(following, /ended before the pull finished/);
});

test('every Engine API path is sent under the pinned API version', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'engine-api-'));
  const socketPath = path.join(dir, 'docker.sock');
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.setHeader('Content-Type', 'application/json');
    res.end(req.url?.includes('/containers/json') === true ? '[]' : '{}');
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  try {
    const docker = new DockerClient({ socketPath });
    await docker.listContainers({ all: true });
    await docker.getContainer('abc').inspect();
    assert.deepEqual(
      paths.map((p) => p.split('?')[0]),
      [`/v${ENGINE_API_VERSION}/containers/json`, `/v${ENGINE_API_VERSION}/containers/abc/json`],
    );
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
