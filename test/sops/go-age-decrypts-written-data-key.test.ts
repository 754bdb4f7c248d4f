import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { run } from '../../agent/lib/exec.ts';
import { encryptSops, generateIdentity } from '../../agent/sops/index.ts';

// Go age (Debian package `age`, 1.1.1: no post-quantum) is the reference for the armored blob.
const ageBinary = await run('age', ['--version'])
  .then(() => true)
  .catch(() => false);

test(
  'the Go age CLI decrypts the data key written for an X25519 recipient',
  { skip: ageBinary ? false : 'the `age` binary is not installed (apt-get install age)' },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sops-go-age-'));
    try {
      const me = await generateIdentity();
      const pq = await generateIdentity({ postQuantum: true });
      const dataKey = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');
      const text = await encryptSops('secret: value\n', {
        file: 'env.yml',
        recipients: [me.recipient, pq.recipient],
        dataKey,
      });
      const entries = (parseDocument(text).toJS() as { sops: { age: { recipient: string; enc: string }[] } }).sops.age;
      const mine = entries.find((e) => e.recipient === me.recipient)!;
      const keyPath = join(dir, 'key.txt');
      const blobPath = join(dir, 'blob.age');
      await writeFile(keyPath, `${me.identity}\n`, { mode: 0o600 });
      await writeFile(blobPath, mine.enc);
      const { stdout } = await run('age', ['-d', '-i', keyPath, blobPath]);
      assert.equal(stdout, dataKey.toString('utf8'));
      // The other recipient's blob is not for this identity.
      const pqBlob = join(dir, 'pq.age');
      await writeFile(pqBlob, entries.find((e) => e.recipient === pq.recipient)!.enc);
      await assert.rejects(run('age', ['-d', '-i', keyPath, pqBlob]));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
