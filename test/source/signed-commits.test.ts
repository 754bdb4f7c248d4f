import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAgentError, type ErrorCode } from '../../agent/core/errors.ts';
import type { TrustedSigner } from '../../agent/source/index.ts';
import { createGpgSigner, createSshSigner, type Signer } from '../../devenv/signers.ts';
import { sourceFixture, type SourceFixture } from './fixture.ts';

let gpg: Signer;
let ssh: Signer;
let stranger: Signer;

before(async () => {
  gpg = await createGpgSigner('Release Manager');
  ssh = await createSshSigner('ed25519', 'ops@appliance.invalid');
  stranger = await createGpgSigner('Stranger');
});

after(async () => {
  await Promise.all([gpg.dispose(), ssh.dispose(), stranger.dispose()]);
});

function trusted(): TrustedSigner[] {
  return [
    { name: 'release', openpgp: gpg.publicKey },
    { name: 'ops', ssh: ssh.publicKey },
  ];
}

/** A fixture whose first commit is signed by `gpg` and already accepted. */
async function acceptedFixture(): Promise<{ fx: SourceFixture; first: string }> {
  const fx = await sourceFixture({ empty: true });
  const first = await fx.work.commit('signed initial', { files: { 'a.yml': 'v: 1\n' }, signer: gpg });
  await fx.work.push();
  const r = await fx.source({ trustedSigners: trusted() }).sync();
  assert.equal(r.revision, first);
  return { fx, first };
}

async function assertRefused(fx: SourceFixture, code: ErrorCode, commit: string, kept: string): Promise<void> {
  await assert.rejects(fx.source({ trustedSigners: trusted() }).sync(), (err: unknown) => {
    assert.ok(isAgentError(err, code), `expected ${code}, got ${String(err)}`);
    assert.equal(err.data['commit'], commit);
    assert.equal(typeof err.data['reason'], 'string');
    assert.equal(err.terminal, true);
    return true;
  });
  const current = await fx.source().current();
  assert.equal(current?.revision, kept);
  assert.equal(await current.reader.readFile('a.yml'), 'v: 1\n');
}

test('a commit signed with a trusted OpenPGP key is accepted', async () => {
  const { fx, first } = await acceptedFixture();
  try {
    const state = JSON.parse(await readFile(join(fx.stateDir, 'source.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(state['revision'], first);
    assert.equal(state['signer'], 'release');
  } finally {
    await fx.close();
  }
});

for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
  test(`a commit signed with a trusted SSH key (${type}) is accepted`, async () => {
    const key = type === 'ed25519' ? ssh : await createSshSigner(type);
    const { fx } = await acceptedFixture();
    try {
      const next = await fx.work.commit('ssh signed', { files: { 'a.yml': 'v: 2\n' }, signer: key });
      await fx.work.push();
      const r = await fx.source({ trustedSigners: [...trusted(), { name: `ssh-${type}`, ssh: key.publicKey }] }).sync();
      assert.equal(r.revision, next);
      assert.equal(await r.reader.readFile('a.yml'), 'v: 2\n');
    } finally {
      await fx.close();
      if (key !== ssh) await key.dispose();
    }
  });
}

test('an unsigned commit is refused and the last accepted revision stays in force', async () => {
  const { fx, first } = await acceptedFixture();
  try {
    const unsigned = await fx.work.commit('unsigned', { files: { 'a.yml': 'v: 666\n' } });
    await fx.work.push();
    await assertRefused(fx, 'UnsignedCommit', unsigned, first);
    // Polling again re-checks the already fetched commit without fetching it again.
    fx.server.resetCounts();
    await assertRefused(fx, 'UnsignedCommit', unsigned, first);
    assert.equal(fx.server.counts().uploadPack, 0);
  } finally {
    await fx.close();
  }
});

test('a commit signed by a key that is not trusted is refused', async () => {
  const { fx, first } = await acceptedFixture();
  try {
    const bad = await fx.work.commit('stranger', { files: { 'a.yml': 'v: 666\n' }, signer: stranger });
    await fx.work.push();
    await assertRefused(fx, 'UntrustedSigner', bad, first);
    const other = await createSshSigner('ed25519');
    try {
      const bad2 = await fx.work.commit('stranger ssh', { files: { 'a.yml': 'v: 667\n' }, signer: other });
      await fx.work.push();
      await assertRefused(fx, 'UntrustedSigner', bad2, first);
    } finally {
      await other.dispose();
    }
  } finally {
    await fx.close();
  }
});

for (const kind of ['openpgp', 'ssh'] as const) {
  test(`a tampered commit with a trusted ${kind} signature is refused as a bad signature`, async () => {
    const { fx, first } = await acceptedFixture();
    try {
      const signed = await fx.work.commit('honest message', {
        files: { 'a.yml': 'v: 2\n' },
        signer: kind === 'ssh' ? ssh : gpg,
      });
      const forged = await fx.work.tamper(signed, (raw) => raw.replace('honest message', 'forged message'));
      await fx.work.push();
      await assertRefused(fx, 'BadSignature', forged, first);
    } finally {
      await fx.close();
    }
  });
}

test('an empty trusted signer list trusts nobody', async () => {
  const fx = await sourceFixture({ empty: true });
  try {
    await fx.work.commit('signed', { files: { 'a.yml': 'v: 1\n' }, signer: gpg });
    await fx.work.push();
    await assert.rejects(fx.source({ trustedSigners: [] }).sync(), (err: unknown) =>
      isAgentError(err, 'UntrustedSigner'),
    );
    assert.equal(await fx.source().current(), undefined);
  } finally {
    await fx.close();
  }
});
