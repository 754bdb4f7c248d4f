import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as openpgp from 'openpgp';
import { parse } from 'yaml';
import type { JsonValue } from '../../agent/core/json.ts';
import { validateDocument } from '../../agent/config/schemas.ts';
import { appNeeds } from '../../agent/provision/app-needs.ts';
import { generateEnv } from '../../agent/provision/env-template.ts';
import {
  dkimTxtValue,
  generateOpenPgpKey,
  generateRsaKey,
  generateToken,
  secretKindOf,
} from '../../agent/provision/generate-secrets.ts';
import { selectApp } from '../../agent/provision/select-app.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { EXAMPLE_REPO } from './appliance-repo.ts';

test('tokens are 256-bit URL-safe strings, never the same twice', () => {
  const tokens = new Set(Array.from({ length: 50 }, generateToken));
  assert.equal(tokens.size, 50);
  for (const t of tokens) assert.match(t, /^[A-Za-z0-9_-]{43}$/);
});

test('the DKIM key is RSA-2048 PKCS#8 and its TXT record carries the matching public key', () => {
  const pem = generateRsaKey();
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  const key = createPrivateKey(pem);
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails?.modulusLength, 2048);
  const txt = dkimTxtValue(pem);
  const p = /^v=DKIM1; k=rsa; p=([A-Za-z0-9+/=]+)$/.exec(txt)?.[1] ?? '';
  const published = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
  assert.equal(
    published.export({ format: 'pem', type: 'spki' }),
    createPublicKey(key).export({ format: 'pem', type: 'spki' }),
  );
});

test('OpenPGP secrets are unprotected private keys named after their secret', async () => {
  const armored = await generateOpenPgpKey('shop ECS_VAULT_SIGN');
  const key = await openpgp.readPrivateKey({ armoredKey: armored });
  assert.ok(key.isDecrypted());
  assert.deepEqual(key.getUserIDs(), ['shop ECS_VAULT_SIGN']);
  assert.equal(secretKindOf(armored), 'openpgp');
  assert.equal(secretKindOf(generateRsaKey()), 'rsa');
  assert.equal(secretKindOf(generateToken()), 'token');
  assert.equal(secretKindOf('https://key@sentry.example.test/2'), undefined);
  assert.equal(secretKindOf('short'), undefined);
});

test('every secret an app references is generated with the right kind, and env.yml validates', async () => {
  const reader = dirRepoReader(EXAMPLE_REPO);
  const ecs = appNeeds((await selectApp(reader, 'apps/ecs/app.yml')).definition);
  assert.deepEqual(Object.fromEntries(ecs.secrets), {
    DATABASE_PASSWORD: 'token',
    ECS_VAULT_ENCRYPT: 'openpgp',
    ECS_VAULT_SIGN: 'openpgp',
  });
  assert.equal(ecs.databasePasswordSecret, 'DATABASE_PASSWORD');
  assert.ok(ecs.env.has('domain'));

  const demo = appNeeds((await selectApp(reader, 'demo')).definition);
  const env = await generateEnv({
    name: 'shop',
    domain: 'shop.example.test',
    createdAt: new Date('2025-01-02T03:04:05Z'),
    backupRepository: 'sftp:backup@backup.example.test:/srv/restic/shop',
    sshAuthorizedKeys: [],
    settings: { DEMO_GREETING: 'hi', DEMO_ROWS_PER_REQUEST: 1 },
    appSecrets: demo.secrets,
    firstUser: { email: 'office@example.test', firstName: 'Erika', lastName: 'Office' },
  });
  assert.deepEqual(env.generated.sort(), [
    'app.secrets.DATABASE_PASSWORD',
    'backup.password',
    'first_user.transport_password',
    'mail.dkim.private_key',
  ]);
  const tree = parse(env.text) as JsonValue;
  const valid = validateDocument('env', tree, 'env.yml');
  assert.ok(valid.ok, JSON.stringify(valid));
  assert.match(env.text, /^# DNS records for shop\.example\.test:$/m);
  assert.match(env.text, /^# +default\._domainkey\.shop\.example\.test\. +TXT +"v=DKIM1; k=rsa; p=/m);
  for (const s of env.secrets) assert.ok(env.text.includes(s.split('\n')[1] ?? s));
});
