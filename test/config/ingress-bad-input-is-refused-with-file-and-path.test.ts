import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runValidate } from '../../agent/cli/validate.ts';
import { loadDesired } from '../../agent/config/load.ts';
import type { ConfigIssue } from '../../agent/core/result.ts';
import { run } from '../../agent/lib/exec.ts';
import { captureIo } from '../cli/golden.ts';
import { at, editYaml, fixtureRepo, memoryRepo, plainDecrypt } from './helpers.ts';

// The ingress's bad input, as `appliance validate` and the agent's loader (one code path) see it.
const ENV = 'appliances/shop-prod/env.yml';
const APPLIANCE = 'appliances/shop-prod/appliance.yml';
const APP = 'apps/shop/app.yml';
type Doc = Record<string, unknown>;

let dir: string;
const pem: Record<'ca' | 'leaf', string> = { ca: '', leaf: '' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ingress-bad-'));
  const ssl = (args: string[]): Promise<unknown> => run('openssl', args, { cwd: dir });
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/CN=env CA', '-days', '2']); // prettier-ignore
  await ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.pem', '-subj', '/CN=leaf', '-days', '2', '-addext', 'basicConstraints=critical,CA:FALSE']); // prettier-ignore
  pem.ca = await readFile(join(dir, 'ca.pem'), 'utf8');
  pem.leaf = await readFile(join(dir, 'leaf.pem'), 'utf8');
});
after(() => rm(dir, { recursive: true, force: true }));

async function errorsAfter(file: string, edit: (doc: Doc) => void): Promise<ConfigIssue[]> {
  const files = editYaml(await fixtureRepo('basic'), file, edit);
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'test' });
  return r.ok ? [] : r.errors;
}

/** `appliance validate` on the edited fixture written to a directory: exit code and output. */
async function validateAfter(file: string, edit: (doc: Doc) => void): Promise<{ code: number; out: string }> {
  const files = editYaml(await fixtureRepo('basic'), file, edit);
  const repo = await mkdtemp(join(dir, 'repo-'));
  for (const [rel, text] of files) {
    await mkdir(dirname(join(repo, rel)), { recursive: true });
    await writeFile(join(repo, rel), text);
  }
  const io = captureIo();
  await runValidate(repo, {}, io, { decrypt: plainDecrypt });
  return { code: io.code ?? 0, out: io.out };
}

const withCa = (ca: string) => (d: Doc) => {
  at(d, 'tls.client_certs')['ca'] = ca;
};
const BAD: { name: string; file: string; edit: (d: Doc) => void; issue: ConfigIssue }[] = [
  {
    name: 'a route to a service the app does not have',
    file: APP,
    edit: (d) => {
      at(d, 'ingress.http')['routes'] = [{ path: '/', service: 'frontend', port: 8080 }];
    },
    issue: { file: APP, path: '/ingress/http/routes/0/service', message: "unknown service 'frontend'" },
  },
  {
    name: 'the same host name twice, spelled differently',
    file: ENV,
    edit: (d) => {
      d['allowed_hosts'] = ['shop.example.org', 'www.shop.example.org', 'Shop.Example.org.'];
    },
    issue: {
      file: ENV,
      path: '/allowed_hosts/2',
      message: "'Shop.Example.org.' is the same host name as allowed_hosts[0]",
    },
  },
  {
    name: 'a client CA whose PEM block is not a certificate',
    file: ENV,
    edit: withCa('-----BEGIN CERTIFICATE-----\nMIIBbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n'),
    issue: {
      file: ENV,
      path: '/tls/client_certs/ca',
      message: 'is not a valid X.509 certificate (the PEM block does not decode to one)',
    },
  },
  {
    name: 'a client CA cut short',
    file: ENV,
    edit: withCa('-----BEGIN CERTIFICATE-----\nMIIBbm90IGEgY2VydGlmaWNhdGU=\n'),
    issue: {
      file: ENV,
      path: '/tls/client_certs/ca',
      message: 'is not a PEM certificate (no BEGIN/END CERTIFICATE block)',
    },
  },
  {
    name: 'a service_mode message over 1 KB',
    file: APPLIANCE,
    edit: (d) => {
      d['service_mode'] = { enabled: true, message: 'ü'.repeat(513) };
    },
    issue: {
      file: APPLIANCE,
      path: '/service_mode/message',
      message: 'is 1026 bytes long; the service page takes at most 1024',
    },
  },
];

for (const c of BAD) {
  test(`refused with file, path and reason: ${c.name}`, async () => {
    assert.deepEqual(await errorsAfter(c.file, c.edit), [c.issue], 'the loader the agent uses');
    const cli = await validateAfter(c.file, c.edit);
    assert.equal(cli.code, 1);
    assert.ok(
      cli.out.includes(`error: ${c.issue.file}: ${c.issue.path}: ${c.issue.message}\n`),
      `appliance validate prints it:\n${cli.out}`,
    );
  });
}

test('a CA certificate is taken; a leaf or two certificates are not', async () => {
  assert.deepEqual(await errorsAfter(ENV, withCa(pem.ca)), []);
  const leaf = await errorsAfter(ENV, withCa(pem.leaf));
  assert.equal(leaf.length, 1);
  const [first] = leaf;
  assert.ok(first);
  assert.equal(first.path, '/tls/client_certs/ca');
  assert.match(first.message, /^is not a CA certificate \('CN=leaf' may not sign others\)$/);
  const two = await errorsAfter(ENV, withCa(pem.ca + pem.ca));
  assert.equal(two[0]?.message, 'holds 2 certificates; give the one CA certificate');
});

test('a message of exactly 1 KB and names that differ are accepted', async () => {
  const errors = await errorsAfter(APPLIANCE, (d) => {
    d['service_mode'] = { enabled: true, message: 'x'.repeat(1024) };
  });
  assert.deepEqual(errors, []);
  assert.deepEqual(
    await errorsAfter(ENV, (d) => {
      d['allowed_hosts'] = ['shop.example.org', 'shop.example.org.example.net'];
    }),
    [],
  );
});
