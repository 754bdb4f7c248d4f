import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { run } from '../../agent/lib/exec.ts';
import { isAgentError } from '../../agent/core/errors.ts';
import { SignatureVerifier } from '../../agent/source/signatures.ts';
import { createGpgSigner, type Signer } from '../../devenv/signers.ts';

let alice: Signer;
let bob: Signer;

before(async () => {
  alice = await createGpgSigner('Alice');
  bob = await createGpgSigner('Bob');
});

after(async () => {
  await Promise.all([alice.dispose(), bob.dispose()]);
});

const PAYLOAD =
  'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' +
  'author A <a@appliance.invalid> 1700000000 +0000\n' +
  'committer A <a@appliance.invalid> 1700000000 +0000\n\nsigned twice\n';

/** gpg's detached signature packets over `data`. */
async function sign(signer: Signer, data: string): Promise<openpgp.PacketList<openpgp.SignaturePacket>> {
  const out = await run('gpg', ['--batch', '--armor', '--detach-sign'], { env: signer.env, input: data });
  return (await openpgp.readSignature({ armoredSignature: out.stdout })).packets;
}

/** The commit object with `packets` (signature packets, in this order) as its gpgsig. */
function commitWith(...lists: openpgp.PacketList<openpgp.SignaturePacket>[]): Uint8Array {
  const packets = new openpgp.PacketList<openpgp.SignaturePacket>();
  for (const l of lists) packets.push(...l);
  const lines = new openpgp.Signature(packets).armor().trimEnd().split('\n');
  const header = `gpgsig ${lines[0] ?? ''}\n${lines
    .slice(1)
    .map((l) => ` ${l}\n`)
    .join('')}`;
  const [head, body] = PAYLOAD.split('\n\n');
  return Buffer.from(`${head ?? ''}\n${header}\n${body ?? ''}`, 'latin1');
}

test('an OpenPGP signature with several packets is refused, whichever of them verifies', async () => {
  const verifier = await SignatureVerifier.create([
    { name: 'alice', openpgp: alice.publicKey },
    { name: 'bob', openpgp: bob.publicKey },
  ]);
  // Bob's packet signs other content; only Alice's matches the commit.
  const twice = commitWith(await sign(bob, 'something else'), await sign(alice, PAYLOAD));
  await assert.rejects(verifier.verify('c0ffee', twice), (err: unknown) => {
    assert.ok(isAgentError(err, 'BadSignature'), String(err));
    assert.match(String(err.data['reason']), /2 signature packets/);
    return true;
  });
  // One packet of Alice's alone is accepted and reported as hers.
  const single = await verifier.verify('c0ffee', commitWith(await sign(alice, PAYLOAD)));
  assert.equal(single.signer, 'alice');
});
