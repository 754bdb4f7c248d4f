import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as age from 'age-encryption';
import { parseDocument } from 'yaml';
import { decryptSops, encryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { AgeFileError, decryptArmoredX25519, x25519Identity } from '../../agent/sops/age-x25519.ts';
import { isAgentError } from '../../agent/core/errors.ts';

const me = await generateIdentity();
const other = await generateIdentity();
const myKey = x25519Identity(me.identity);
assert.ok(myKey);

async function encrypt(plain: Uint8Array): Promise<Buffer> {
  const e = new age.Encrypter();
  e.addRecipient(me.recipient);
  return Buffer.from(await e.encrypt(plain));
}

/** The file with `stanza` (header lines, no trailing newline) inserted before the MAC line. */
function withStanza(file: Buffer, stanza: string): string {
  const at = file.indexOf('\n--- ') + 1;
  return age.armor.encode(
    Buffer.concat([file.subarray(0, at), Buffer.from(`${stanza}\n`, 'latin1'), file.subarray(at)]),
  );
}

function refusedAs(kind: 'malformed' | 'tampered', pattern: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof AgeFileError && err.kind === kind && pattern.test(err.message);
}

test('a stanza argument outside printable ASCII is refused', async () => {
  const file = await encrypt(new Uint8Array(32));
  assert.equal(decryptArmoredX25519(age.armor.encode(file), [myKey])?.length, 32);
  for (const arg of ['caf\u00e9', 'tab\there', 'del\u007f']) {
    assert.throws(
      () => decryptArmoredX25519(withStanza(file, `-> other ${arg}\nAAAA`), [myKey]),
      refusedAs('malformed', /printable ASCII/),
      JSON.stringify(arg),
    );
  }
});

test('an scrypt stanza next to other stanzas is refused', async () => {
  const file = await encrypt(new Uint8Array(32));
  assert.throws(
    () => decryptArmoredX25519(withStanza(file, '-> scrypt c2FsdHNhbHRzYWx0c2FsdA 10\nAAAA'), [myKey]),
    refusedAs('malformed', /scrypt/),
  );
});

test('a SOPS data key whose age header MAC fails is reported as tampering, not as "no identity"', async () => {
  const enc = await encryptSops('db:\n    password: hunter2-very-secret\n', {
    file: 'env.yml',
    recipients: [me.recipient, other.recipient],
  });
  const doc = parseDocument(enc);
  const entries = doc.getIn(['sops', 'age']) as {
    items: { get(k: string): string; set(k: string, v: string): void }[];
  };
  for (const entry of entries.items) {
    if (entry.get('recipient') !== me.recipient) continue;
    const file = Buffer.from(age.armor.decode(entry.get('enc')));
    const mac = file.indexOf('\n--- ') + 5;
    // One character of the MAC changed, still canonical base64.
    file[mac] = file[mac] === 0x41 ? 0x42 : 0x41;
    entry.set('enc', age.armor.encode(file));
  }
  await assert.rejects(decryptSops(doc.toString(), { file: 'env.yml', identities: [me.identity] }), (err) => {
    assert.ok(isAgentError(err, 'SopsAgeTampered'), String(err));
    assert.match(err.message, /^env\.yml: .*tampered/);
    assert.doesNotMatch(err.message, /hunter2|AGE-SECRET/);
    return true;
  });
  // The other operator's entry is intact: they still open the file.
  const opened = await decryptSops(doc.toString(), { file: 'env.yml', identities: [other.identity] });
  assert.ok(opened.value);
});
