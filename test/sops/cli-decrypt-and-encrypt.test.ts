import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { register as registerDecrypt } from '../../agent/cli/decrypt.ts';
import { type CliIo } from '../../agent/cli/io.ts';
import { register as registerEncrypt } from '../../agent/cli/encrypt.ts';
import { decryptSops, generateIdentity } from '../../agent/sops/index.ts';
import { FIXTURES, ROPS_EXAMPLE, ROPS_KEY, SOPS_NIX, SOPS_NIX_KEY } from './fixtures.ts';

const dir = await mkdtemp(join(tmpdir(), 'sops-cli-'));
test.after(() => rm(dir, { recursive: true, force: true }));

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
}

/** Runs `appliance <args>` on a fresh program with captured output. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const result: Run = { stdout: '', stderr: '', exitCode: undefined };
  const io: CliIo = {
    stdout: (t) => (result.stdout += t),
    stderr: (t) => (result.stderr += t),
    setExitCode: (c) => (result.exitCode = c),
    env,
  };
  const program = new Command('appliance')
    .exitOverride()
    .configureOutput({ writeOut: (t) => (result.stdout += t), writeErr: (t) => (result.stderr += t) });
  registerDecrypt(program, io);
  registerEncrypt(program, io);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    result.exitCode = (err as { exitCode?: number }).exitCode ?? -1;
  }
  return result;
}

async function privateCopy(name: string, mode = 0o600): Promise<string> {
  const path = join(dir, name.replaceAll('/', '_'));
  await copyFile(FIXTURES + name, path);
  await chmod(path, mode);
  return path;
}

const noSecrets = (r: Run, ...secrets: string[]) => {
  for (const s of secrets) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'output leaks a secret');
};

test('decrypt prints the plaintext YAML using --identity', async () => {
  const key = await privateCopy(SOPS_NIX_KEY);
  const r = await cli(['decrypt', FIXTURES + SOPS_NIX, '--identity', key]);
  assert.equal(r.exitCode, undefined, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(
    r.stdout,
    'test_key: test_value\na_list:\n    - e1\n    - e3\nnested:\n    test:\n        file: another value\n',
  );
  noSecrets(
    r,
    (await readFile(key, 'utf8')).split('\n').find((l) => l.startsWith('AGE-'))!,
  );
});

test('decrypt takes the identity file from the environment and prints JSON for JSON', async () => {
  const key = await privateCopy('fluxcd__kustomize-controller/internal/controller/testdata/sops/keys/age.txt');
  const file = `${FIXTURES}fluxcd__kustomize-controller/internal/controller/testdata/sops/files/file.txt`;
  const r = await cli(['decrypt', file, '--input-type', 'json'], { SOPS_AGE_KEY_FILE: key });
  assert.equal(r.exitCode, undefined, r.stderr);
  assert.equal(r.stdout, '{\n\t"data": "value"\n}\n');
});

test('decrypt fails with exit code 1 and one line naming the file', async () => {
  const { identity } = await generateIdentity();
  const wrongKey = join(dir, 'wrong.txt');
  await writeFile(wrongKey, `${identity}\n`, { mode: 0o600 });
  const file = FIXTURES + SOPS_NIX;
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ['decrypt', file, '--identity', wrongKey],
      {},
      /^appliance decrypt: .*secrets\.yaml: none of the given age identities/,
    ],
    [['decrypt', file], {}, /^appliance decrypt: .*secrets\.yaml: no age identity: pass --identity/],
    [
      ['decrypt', join(dir, 'absent.yaml')],
      { APPLIANCE_AGE_IDENTITY_FILE: wrongKey },
      /^appliance decrypt: .*absent\.yaml: cannot read \(ENOENT\)$/,
    ],
    [
      ['decrypt', file, '--identity', join(dir, 'nokey.txt')],
      {},
      /^appliance decrypt: .*nokey\.txt: identity file not found$/,
    ],
  ];
  for (const [args, env, message] of cases) {
    const r = await cli(args, env);
    assert.equal(r.exitCode, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr.trimEnd(), message);
    assert.equal(r.stderr.split('\n').length, 2, 'exactly one line');
    noSecrets(r, identity);
  }
});

test('decrypt refuses a tampered file and warns about a readable identity file', async () => {
  const key = await privateCopy(ROPS_KEY, 0o644);
  const tampered = join(dir, 'tampered.yaml');
  // Swap the two items of example_array: both decrypt (same AAD), the MAC does not match.
  const lines = (await readFile(FIXTURES + ROPS_EXAMPLE, 'utf8')).split('\n');
  const i = lines.findIndex((l) => l.trimStart().startsWith('- ENC['));
  [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
  await writeFile(tampered, lines.join('\n'));
  const r = await cli(['decrypt', tampered, '-i', key]);
  assert.equal(r.exitCode, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /warning: .*readable by group or others/);
  assert.match(r.stderr, /appliance decrypt: .*tampered\.yaml: MAC mismatch/);
});

test('encrypt prints a file for repeated and comma-separated recipients that each can decrypt', async () => {
  const [a, b, c] = await Promise.all([
    generateIdentity(),
    generateIdentity(),
    generateIdentity({ postQuantum: true }),
  ]);
  const plain = join(dir, 'env.yml');
  await writeFile(plain, 'db:\n    password: pw\nkind: Secret\n', { mode: 0o600 });
  const r = await cli([
    'encrypt',
    plain,
    '--recipient',
    a.recipient,
    '-r',
    `${b.recipient},${c.recipient}`,
    '--encrypted-regex',
    '^db$',
  ]);
  assert.equal(r.exitCode, undefined, r.stderr);
  assert.match(r.stdout, /^kind: Secret$/m);
  assert.match(r.stdout, /encrypted_regex: \^db\$/);
  for (const id of [a, b, c]) {
    const { value } = await decryptSops(r.stdout, { file: 'env.yml', identities: [id.identity] });
    assert.deepEqual(value, { db: { password: 'pw' }, kind: 'Secret' });
  }
  assert.equal(await readFile(plain, 'utf8'), 'db:\n    password: pw\nkind: Secret\n', 'not in place unless asked');
});

test('encrypt --in-place replaces the file atomically keeping its mode, and refuses to encrypt twice', async () => {
  const me = await generateIdentity();
  const plain = join(dir, 'inplace.yml');
  await writeFile(plain, 'token: abc\n');
  await chmod(plain, 0o640);
  const r = await cli(['encrypt', plain, '-r', me.recipient, '--in-place', '--mac-only-encrypted']);
  assert.equal(r.exitCode, undefined, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal((await stat(plain)).mode & 0o777, 0o640);
  const text = await readFile(plain, 'utf8');
  assert.match(text, /mac_only_encrypted: true/);
  assert.deepEqual((await decryptSops(text, { file: plain, identities: [me.identity] })).value, { token: 'abc' });
  const again = await cli(['encrypt', plain, '-r', me.recipient, '--in-place']);
  assert.equal(again.exitCode, 1);
  assert.match(again.stderr, /^appliance encrypt: .*inplace\.yml: is already encrypted/);
  assert.equal(await readFile(plain, 'utf8'), text, 'file untouched');
});

test('encrypt rejects conflicting rules and a missing recipient', async () => {
  const plain = join(dir, 'rules.yml');
  await writeFile(plain, 'a: 1\n');
  const conflict = await cli([
    'encrypt',
    plain,
    '-r',
    (await generateIdentity()).recipient,
    '--encrypted-regex',
    'a',
    '--unencrypted-suffix',
    '_x',
  ]);
  assert.equal(conflict.exitCode, 1);
  assert.match(conflict.stderr, /cannot be used with/);
  const none = await cli(['encrypt', plain]);
  assert.equal(none.exitCode, 1);
  assert.match(none.stderr, /^appliance encrypt: .*rules\.yml: no recipient/);
});
