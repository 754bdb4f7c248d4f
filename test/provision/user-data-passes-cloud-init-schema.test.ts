import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { isAgentError } from '../../agent/core/errors.ts';
import { run } from '../../agent/lib/exec.ts';
import { AGE_IDENTITY_PATH, BOOTSTRAP_PATH, renderMetaData, renderUserData } from '../../agent/provision/user-data.ts';
import { ageKeyPair, tempDir } from './helpers.ts';

const bootstrap = {
  name: 'demo-one',
  repo: { url: 'https://git.example.org/ops/appliances.git', branch: 'main' },
  age_identity_file: AGE_IDENTITY_PATH,
  trust: {
    signers: [{ name: 'ops', ssh: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2bpd0yoXWbHbCsbDlC9N2Cn1I4cE1x ops' }],
  },
};
const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2bpd0yoXWbHbCsbDlC9N2Cn1I4cE1x admin@example.org';

/** Runs cloud-init's own schema check; returns its exit code and output. */
async function cloudInitSchema(file: string): Promise<{ code: number; output: string }> {
  const r = await run('cloud-init', ['schema', '--config-file', file], { okCodes: [0, 1], timeoutMs: 60_000 });
  return { code: r.exitCode, output: r.stdout + r.stderr };
}

test('user-data passes cloud-init schema and carries the bootstrap file and identity', async (t) => {
  const dir = await tempDir(t);
  const { identity } = await ageKeyPair();
  const identityFile = `# created: 2025-01-01T00:00:00Z\n# public key: age1xyz\n${identity}\n`;
  const userData = renderUserData({
    bootstrap,
    ageIdentity: identityFile,
    sshAuthorizedKeys: [sshKey],
    hostname: 'demo-one',
    fqdn: 'demo-one.example.org',
  });
  assert.ok(userData.startsWith('#cloud-config\n'));
  const file = join(dir, 'user-data');
  await writeFile(file, userData, { mode: 0o600 });
  const checked = await cloudInitSchema(file);
  assert.equal(checked.code, 0, checked.output);
  assert.match(checked.output, /Valid cloud-config/);

  const doc = parse(userData) as {
    hostname: string;
    ssh_authorized_keys: string[];
    write_files: { path: string; owner: string; permissions: string; content: string }[];
  };
  assert.equal(doc.hostname, 'demo-one');
  assert.deepEqual(doc.ssh_authorized_keys, [sshKey]);
  const [boot, key] = doc.write_files;
  assert.ok(boot !== undefined && key !== undefined);
  assert.deepEqual(
    { path: boot.path, owner: boot.owner, permissions: boot.permissions },
    { path: BOOTSTRAP_PATH, owner: 'root:root', permissions: '0600' },
  );
  assert.deepEqual(parse(boot.content), bootstrap);
  assert.deepEqual([key.path, key.owner, key.permissions], [AGE_IDENTITY_PATH, 'root:root', '0600']);
  assert.equal(key.content, identityFile);
});

test('cloud-init schema really checks: a broken user-data is refused', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'user-data');
  await writeFile(file, '#cloud-config\nwrite_files: 5\nssh_authorized_keys: {a: 1}\n');
  const checked = await cloudInitSchema(file);
  assert.equal(checked.code, 1, checked.output);
  assert.match(checked.output, /write_files: 5 is not of type 'array'/);
});

test('bad identities, keys and host names are refused without echoing the secret', async () => {
  const { identity } = await ageKeyPair();
  assert.throws(
    () => renderUserData({ bootstrap, ageIdentity: `${identity}x` }),
    (err: unknown) => isAgentError(err, 'AgeIdentityInvalid') && !err.message.includes(identity),
  );
  assert.throws(
    () => renderUserData({ bootstrap, ageIdentity: 'age1notasecretkey' }),
    (err: unknown) => isAgentError(err, 'AgeIdentityInvalid'),
  );
  assert.throws(
    () => renderUserData({ bootstrap, ageIdentity: identity, sshAuthorizedKeys: ['ssh-ed25519'] }),
    (err: unknown) => isAgentError(err, 'UserDataInvalid'),
  );
  assert.throws(
    () => renderUserData({ bootstrap, ageIdentity: identity, hostname: 'bad host' }),
    (err: unknown) => isAgentError(err, 'UserDataInvalid'),
  );
  assert.throws(
    () => renderUserData({ bootstrap: { ...bootstrap, age_identity_file: '/root/key' }, ageIdentity: identity }),
    (err: unknown) => isAgentError(err, 'UserDataInconsistent'),
  );
});

test('meta-data names the instance and host', () => {
  const meta = renderMetaData({ instanceId: 'iid-demo-one-20250101', hostname: 'demo-one' });
  assert.deepEqual(parse(meta), { 'instance-id': 'iid-demo-one-20250101', 'local-hostname': 'demo-one' });
  assert.throws(
    () => renderMetaData({ instanceId: 'a\nb', hostname: 'x' }),
    (err: unknown) => isAgentError(err, 'MetaDataInvalid'),
  );
});
