import { basename } from 'node:path';
import * as openpgp from 'openpgp';
import { stringify } from 'yaml';
import { AgentError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import { loadBootstrap } from '../config/bootstrap.ts';
import type { BootstrapConfig, TrustedSigner } from '../core/config-types.gen.ts';
import { parseCredentials } from '../source/credentials.ts';
import { AGE_IDENTITY_PATH } from './user-data.ts';

/** Where the seed puts the config repository's access token on the appliance. */
export const CREDENTIALS_PATH = '/etc/appliance/repo-credentials';

/** What the agent's bootstrap config of a new appliance is made from. */
export interface BootstrapInput {
  name: string;
  repoUrl: string;
  branch: string;
  /** True when the seed carries a credentials file (at CREDENTIALS_PATH). */
  credentials: boolean;
  signers: readonly TrustedSigner[];
  webhookSecret: string;
}

/**
 * The bootstrap config (schema/bootstrap.schema.json plus its cross-field rules), checked before
 * anyone writes it. The text holds the webhook secret: write it 0600.
 */
export function buildBootstrap(input: BootstrapInput): {
  /** The document as written (no defaults filled in). */
  doc: Record<string, unknown>;
  /** The document as the agent reads it (defaults filled in). */
  config: BootstrapConfig;
  text: string;
} {
  const doc = {
    name: input.name,
    repo: {
      url: input.repoUrl,
      branch: input.branch,
      ...(input.credentials ? { credentials_file: CREDENTIALS_PATH } : {}),
    },
    age_identity_file: AGE_IDENTITY_PATH,
    trust: { signers: input.signers.map((s) => ({ ...s })) },
    webhook: { secret: input.webhookSecret },
  };
  const text =
    `# The appliance agent's bootstrap config for ${input.name} (${AGE_IDENTITY_PATH} beside it).\n` +
    '# Holds the webhook secret (webhook.secret): keep it 0600; give the same secret to the forge.\n' +
    stringify(doc, { lineWidth: 0 });
  const checked = loadBootstrap(text, 'bootstrap.yml');
  if (!checked.ok)
    throw new AgentError(
      'BootstrapInvalid',
      `the bootstrap config would be invalid: ${checked.errors.map(formatIssue).join('; ')}`,
      { terminal: true },
    );
  return { doc, config: checked.value, text };
}

/**
 * The content of the repository credentials file the seed carries: a credentials YAML
 * (`token:` or `username:`/`password:`) as it is, or a bare token turned into `token: …`.
 * Errors name the file, never a value.
 */
export function credentialsContent(text: string, file: string): string {
  const trimmed = text.trim();
  if (trimmed !== '' && !/[\s:]/.test(trimmed)) return stringify({ token: trimmed });
  parseCredentials(text, file);
  return text.endsWith('\n') ? text : `${text}\n`;
}

const SSH_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;
const PGP_BLOCK = /-----BEGIN PGP PUBLIC KEY BLOCK-----[\s\S]*?-----END PGP PUBLIC KEY BLOCK-----/g;

/**
 * Trusted commit signers from files of armored OpenPGP public keys and/or SSH public key lines
 * (authorized_keys style). Each is named by its user id or comment; names are made unique.
 */
export async function readTrustedSigners(files: readonly { path: string; text: string }[]): Promise<TrustedSigner[]> {
  const signers: TrustedSigner[] = [];
  const names = new Set<string>();
  const unique = (wanted: string): string => {
    let name = wanted;
    for (let i = 2; names.has(name); i++) name = `${wanted} (${i})`;
    names.add(name);
    return name;
  };
  for (const { path, text } of files) {
    if (/PRIVATE KEY/.test(text)) throw signerError(path, 'holds a private key: give the public key only');
    const blocks = text.match(PGP_BLOCK) ?? [];
    for (const armored of blocks) {
      let key: openpgp.Key;
      try {
        key = await openpgp.readKey({ armoredKey: armored });
      } catch {
        throw signerError(path, 'has an OpenPGP block that is not a readable public key');
      }
      const userId = key.getUserIDs()[0];
      signers.push({ name: unique(userId ?? key.getFingerprint().toUpperCase()), openpgp: `${armored.trim()}\n` });
    }
    const rest = text.replace(PGP_BLOCK, '');
    rest.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      if (!SSH_LINE.test(line)) throw signerError(path, `line ${i + 1} is neither an SSH public key nor OpenPGP`);
      if (signers.some((s) => s.ssh === line)) return;
      const comment = line.split(/\s+/).slice(2).join(' ');
      signers.push({ name: unique(comment === '' ? basename(path) : comment), ssh: line });
    });
  }
  return signers;
}

function signerError(path: string, why: string): AgentError {
  return new AgentError('TrustedSignerInvalid', `${path}: ${why}`, { terminal: true, data: { file: path } });
}
