import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { AgentError } from '../core/errors.ts';

/**
 * What a generated secret is: a random URL-safe token, an RSA-2048 private key (PEM, PKCS#8;
 * DKIM and files that want a PEM key), or an OpenPGP private key (armored, no passphrase; the
 * original appliance's vault and backup keys).
 */
export type SecretKind = 'token' | 'rsa' | 'openpgp';

/** Every kind, as `--secret NAME:KIND` accepts them. */
export const SECRET_KINDS: readonly SecretKind[] = ['token', 'rsa', 'openpgp'];

/** Bytes of randomness in a token: 32 bytes are 43 base64url characters. */
const TOKEN_BYTES = 32;

/** A random URL-safe token (base64url, 43 characters, 256 bits). */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** A new RSA-2048 private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export function generateRsaKey(): string {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  }).privateKey;
}

/**
 * A new OpenPGP key without passphrase, never expiring, armored. `label` becomes its user id
 * (the original appliance named its keys `ecs_backup`, `ecs_mediaserver`, `ecs_authority`).
 */
export async function generateOpenPgpKey(label: string): Promise<string> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: label }],
    format: 'armored',
  });
  return privateKey;
}

/** A new secret of `kind`; `label` names OpenPGP keys and is otherwise unused. */
export async function generateSecret(kind: SecretKind, label: string): Promise<string> {
  switch (kind) {
    case 'token':
      return generateToken();
    case 'rsa':
      return generateRsaKey();
    case 'openpgp':
      return generateOpenPgpKey(label);
  }
}

/** The kind of secret a value looks like it was generated as, or undefined (e.g. a URL). */
export function secretKindOf(value: string): SecretKind | undefined {
  if (/^-----BEGIN PGP PRIVATE KEY BLOCK-----/.test(value)) return 'openpgp';
  if (/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(value)) return 'rsa';
  if (/^[A-Za-z0-9_\-+/]{32,}={0,2}$/.test(value)) return 'token';
  return undefined;
}

/** Parses a kind given on the command line. */
export function parseSecretKind(text: string): SecretKind {
  const kind = SECRET_KINDS.find((k) => k === text);
  if (kind === undefined)
    throw new AgentError('SecretKindUnknown', `unknown secret kind '${text}' (known: ${SECRET_KINDS.join(', ')})`, {
      terminal: true,
    });
  return kind;
}

/**
 * The DKIM DNS TXT value of an RSA private key: `v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>`.
 * Public information only.
 */
export function dkimTxtValue(privateKeyPem: string): string {
  const pub = createPublicKey(createPrivateKey(privateKeyPem));
  const der = pub.export({ type: 'spki', format: 'der' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}
