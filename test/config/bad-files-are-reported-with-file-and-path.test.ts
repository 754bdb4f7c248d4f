import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDesired } from '../../agent/config/load.ts';
import type { ConfigIssue } from '../../agent/core/result.ts';
import { at, editYaml, fixtureRepo, memoryRepo, plainDecrypt } from './helpers.ts';

const ENV = 'appliances/shop-prod/env.yml';
const APPLIANCE = 'appliances/shop-prod/appliance.yml';
const APP = 'apps/shop/app.yml';

async function errorsOf(files: Map<string, string>): Promise<ConfigIssue[]> {
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'test' });
  if (r.ok) assert.fail('expected the configuration to be refused');
  return r.errors;
}

test('malformed YAML names the file, line and column', async () => {
  const files = await fixtureRepo('basic');
  files.set(APPLIANCE, 'app: apps/shop/app.yml\nagent:\n  version: [0.1.0\nimages: {}\n');
  const errors = await errorsOf(files);
  const [only, ...rest] = errors;
  assert.ok(only);
  assert.deepEqual(rest, []);
  assert.equal(only.file, APPLIANCE);
  assert.match(only.message, /^YAML line 4, column 1: /);
});

test('a duplicate key is an error with its line', async () => {
  const files = await fixtureRepo('basic');
  files.set(ENV, `${files.get(ENV) ?? ''}domain: other.example.org\n`);
  const errors = await errorsOf(files);
  assert.deepEqual(
    errors.map((e) => [e.file, e.message]),
    [[ENV, `YAML line ${(files.get(ENV) ?? '').split('\n').length - 1}, column 1: Map keys must be unique`]],
  );
});

test('YAML errors never quote the (secret) content', async () => {
  const files = await fixtureRepo('basic');
  files.set(ENV, 'domain: x.example.org\napp:\n  secrets:\n    A: "very-secret-value\n');
  const errors = await errorsOf(files);
  assert.ok(errors.length > 0);
  for (const e of errors) assert.doesNotMatch(e.message, /very-secret-value/);
});

test('a value of the wrong type names its JSON path and the expected type', async () => {
  const files = editYaml(await fixtureRepo('basic'), APP, (doc) => {
    at(doc, 'services.web')['ports'] = [{ container: '8080', host: 8080 }];
  });
  const errors = await errorsOf(files);
  assert.deepEqual(errors, [
    { file: APP, path: '/services/web/ports/0/container', message: 'must be an integer (found a string)' },
  ]);
});

test('an unknown key is reported at its own path, with a suggestion', async () => {
  const files = editYaml(await fixtureRepo('basic'), ENV, (doc) => {
    at(doc, 'tls')['acmee'] = { enabled: true };
  });
  const errors = await errorsOf(files);
  assert.deepEqual(errors, [{ file: ENV, path: '/tls/acmee', message: "unknown key 'acmee' (did you mean 'acme'?)" }]);
});

test('a missing required key is named', async () => {
  const files = editYaml(await fixtureRepo('basic'), ENV, (doc) => {
    delete doc['domain'];
  });
  const errors = await errorsOf(files);
  assert.deepEqual(errors, [{ file: ENV, path: '', message: "missing required key 'domain'" }]);
});

test('a value that breaks a pattern says what is expected, not the pattern', async () => {
  const files = editYaml(await fixtureRepo('basic'), ENV, (doc) => {
    at(doc, 'tls')['key'] = '/etc/ssl/private/server.key';
    at(doc, 'tls')['cert'] = '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n';
  });
  const errors = await errorsOf(files);
  assert.deepEqual(errors, [
    { file: ENV, path: '/tls/key', message: 'must be a PEM private key (the key itself, not a file name)' },
  ]);
});

test('every file is checked: problems in three files come back together', async () => {
  let files = editYaml(await fixtureRepo('basic'), ENV, (doc) => {
    doc['standby'] = 'yes';
  });
  files = editYaml(files, APPLIANCE, (doc) => {
    doc['polices'] = {};
  });
  files = editYaml(files, APP, (doc) => {
    at(doc, 'services.web')['depends_on'] = 'postgres';
  });
  const errors = await errorsOf(files);
  assert.deepEqual(
    errors.map((e) => `${e.file}${e.path}`),
    [`${APPLIANCE}/polices`, `${ENV}/standby`, `${APP}/services/web/depends_on`],
  );
});

test('an app file that breaks its schema is reported even when the others are fine', async () => {
  const files = editYaml(await fixtureRepo('basic'), APP, (doc) => {
    at(doc, 'services.web')['restart'] = 'sometimes';
  });
  const errors = await errorsOf(files);
  assert.deepEqual(errors, [
    { file: APP, path: '/services/web/restart', message: 'must be one of: no, always, unless-stopped, on-failure' },
  ]);
});

test('an oversized file is refused with the limit', async () => {
  const files = await fixtureRepo('basic');
  files.set(APP, `${files.get(APP) ?? ''}\n# ${'x'.repeat(2048)}\n`);
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 't', maxBytes: 2048 });
  if (r.ok) assert.fail('expected the configuration to be refused');
  assert.ok(r.errors.some((e) => e.file === APP && /larger than the limit of 2048 bytes/.test(e.message)));
});
