import { stringify } from 'yaml';
import { AgentError } from '../core/errors.ts';

/** Where the seed's user-data puts the agent's bootstrap file on the appliance. */
export const BOOTSTRAP_PATH = '/etc/appliance/bootstrap.yml';
/** Where the seed's user-data puts the appliance's age identity. */
export const AGE_IDENTITY_PATH = '/etc/appliance/age.key';

export interface UserDataOptions {
  /** The agent's bootstrap config (schema/bootstrap.schema.json), written as YAML to BOOTSTRAP_PATH. */
  bootstrap: Readonly<Record<string, unknown>>;
  /** Contents of an age identity file: `AGE-SECRET-KEY-1…` lines, optional `#` comments. */
  ageIdentity: string;
  /** Keys for the image's default user (cloud-init `ssh_authorized_keys`). */
  sshAuthorizedKeys?: readonly string[];
  hostname?: string;
  fqdn?: string;
}

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IDENTITY_RE = /^AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]{58}$/;
const SSH_KEY_RE =
  /^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( [^\n]*)?$/;

/**
 * A `#cloud-config` user-data that writes the bootstrap file and the age identity (both root,
 * 0600) with `write_files`. The result holds a secret: write it 0600.
 */
export function renderUserData(options: UserDataOptions): string {
  const identity = normalizeIdentity(options.ageIdentity);
  const declared = options.bootstrap['age_identity_file'];
  if (declared !== undefined && declared !== AGE_IDENTITY_PATH)
    throw new AgentError(
      'UserDataInconsistent',
      `bootstrap age_identity_file is ${JSON.stringify(declared)} but the seed writes the identity to ${AGE_IDENTITY_PATH}`,
      { terminal: true },
    );
  for (const [i, key] of (options.sshAuthorizedKeys ?? []).entries())
    if (!SSH_KEY_RE.test(key))
      throw new AgentError('UserDataInvalid', `ssh_authorized_keys[${i}] is not an SSH public key line`, {
        terminal: true,
      });
  for (const [field, value] of [
    ['hostname', options.hostname],
    ['fqdn', options.fqdn],
  ] as const)
    if (value !== undefined && !HOSTNAME_RE.test(value))
      throw new AgentError('UserDataInvalid', `${field} '${value}' is not a valid host name`, { terminal: true });

  const config: Record<string, unknown> = {};
  if (options.hostname !== undefined) config['hostname'] = options.hostname;
  if (options.fqdn !== undefined) config['fqdn'] = options.fqdn;
  if (options.sshAuthorizedKeys !== undefined && options.sshAuthorizedKeys.length > 0)
    config['ssh_authorized_keys'] = [...options.sshAuthorizedKeys];
  config['write_files'] = [
    { path: BOOTSTRAP_PATH, owner: 'root:root', permissions: '0600', content: stringify(options.bootstrap) },
    { path: AGE_IDENTITY_PATH, owner: 'root:root', permissions: '0600', content: identity },
  ];
  return (
    '#cloud-config\n' +
    '# appliance seed: bootstrap config and age identity for the agent. Holds a secret (mode 0600).\n' +
    stringify(config, { lineWidth: 0 })
  );
}

/** NoCloud meta-data: the instance id (a new id makes cloud-init run again) and the host name. */
export function renderMetaData(options: { instanceId: string; hostname: string }): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(options.instanceId))
    throw new AgentError('MetaDataInvalid', `instance id '${options.instanceId}' is not valid`, { terminal: true });
  if (!HOSTNAME_RE.test(options.hostname))
    throw new AgentError('MetaDataInvalid', `hostname '${options.hostname}' is not a valid host name`, {
      terminal: true,
    });
  return stringify({ 'instance-id': options.instanceId, 'local-hostname': options.hostname });
}

function normalizeIdentity(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const keys = lines.filter((l) => !l.startsWith('#'));
  // The message never quotes the offending line: it may be (part of) a secret.
  if (keys.length === 0 || !keys.every((l) => IDENTITY_RE.test(l)))
    throw new AgentError('AgeIdentityInvalid', 'the age identity must be AGE-SECRET-KEY-1… lines (and # comments)', {
      terminal: true,
    });
  return `${lines.join('\n')}\n`;
}
