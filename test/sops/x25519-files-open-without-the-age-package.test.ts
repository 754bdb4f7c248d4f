import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as age from 'age-encryption';
import { armorDecode, decryptArmoredX25519, x25519Identity } from '../../agent/sops/age-x25519.ts';
import { run } from '../../agent/lib/exec.ts';

// Go age (Debian package `age`) is the reference; age-encryption (the package) a second writer.
const ageBinary = await run('age', ['--version'])
  .then(() => true)
  .catch(() => false);

async function packageEncrypt(plain: Uint8Array, recipients: string[]): Promise<string> {
  const e = new age.Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return age.armor.encode(await e.encrypt(plain));
}

function identity(text: string): NonNullable<ReturnType<typeof x25519Identity>> {
  const id = x25519Identity(text);
  assert.ok(id);
  return id;
}

test(
  'files the Go age CLI writes open, also with several recipients and several chunks',
  {
    skip: ageBinary ? false : 'the `age` binary is not installed (apt-get install age)',
  },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'age-x25519-'));
    try {
      const me = await age.generateX25519Identity();
      const other = await age.generateX25519Identity();
      const recipients = [await age.identityToRecipient(other), await age.identityToRecipient(me)];
      for (const size of [0, 32, 64 * 1024, 64 * 1024 + 1, 200_000]) {
        const plain = randomBytes(size);
        await writeFile(join(dir, 'plain'), plain);
        await run('age', [
          '-a',
          ...recipients.flatMap((r) => ['-r', r]),
          '-o',
          join(dir, 'out.age'),
          join(dir, 'plain'),
        ]);
        const armored = await readFile(join(dir, 'out.age'), 'utf8');
        const opened = decryptArmoredX25519(armored, [identity(me)]);
        assert.ok(opened, `size ${size}`);
        assert.ok(Buffer.from(opened).equals(plain), `size ${size}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test('files age-encryption writes open; a file for someone else gives undefined', async () => {
  const me = await age.generateX25519Identity();
  const other = await age.generateX25519Identity();
  const key = randomBytes(32);
  const armored = await packageEncrypt(key, [await age.identityToRecipient(me)]);
  assert.ok(Buffer.from(decryptArmoredX25519(armored, [identity(other), identity(me)]) ?? []).equals(key));
  assert.equal(decryptArmoredX25519(armored, [identity(other)]), undefined);
  // A post-quantum recipient's stanza is not X25519: nothing to open here.
  const pq = await age.generateHybridIdentity();
  assert.equal(
    decryptArmoredX25519(await packageEncrypt(key, [await age.identityToRecipient(pq)]), [identity(me)]),
    undefined,
  );
});

test('a changed header or payload byte fails authentication', async () => {
  const me = await age.generateX25519Identity();
  const armored = await packageEncrypt(randomBytes(32), [await age.identityToRecipient(me)]);
  const file = armorDecode(armored);
  const headerEnd = file.indexOf('\n---') + 1;
  for (const at of [headerEnd - 2, file.length - 20, file.length - 1]) {
    const bad = Buffer.from(file);
    bad[at] = (bad[at] ?? 0) ^ 1;
    assert.throws(() => decryptArmoredX25519(age.armor.encode(bad), [identity(me)]), `byte ${at}`);
  }
  assert.throws(() => decryptArmoredX25519(armored.replace('-----BEGIN', '-----BEGAN'), [identity(me)]));
  const truncated = age.armor.encode(file.subarray(0, file.length - 1));
  assert.throws(() => decryptArmoredX25519(truncated, [identity(me)]));
});

test('identities: X25519 bech32 with a valid checksum, in one case', async () => {
  const me = await age.generateX25519Identity();
  assert.ok(x25519Identity(me));
  const last = me.at(-1) === 'Q' ? 'P' : 'Q';
  assert.equal(x25519Identity(me.slice(0, -1) + last), undefined);
  assert.equal(x25519Identity(me.slice(0, 20) + me.slice(20).toLowerCase()), undefined);
  assert.equal(x25519Identity(await age.generateHybridIdentity()), undefined);
  assert.equal(x25519Identity('AGE-SECRET-KEY-1'), undefined);
  assert.equal(x25519Identity(''), undefined);
});
