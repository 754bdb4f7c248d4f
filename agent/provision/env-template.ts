import { Document } from 'yaml';
import { dkimTxtValue, generateSecret, generateToken, type SecretKind } from './generate-secrets.ts';
import { dnsRecords, formatDnsRecords } from './dns-records.ts';

/** What goes into a new appliance's env.yml besides the generated secrets. */
export interface EnvOptions {
  name: string;
  domain: string;
  createdAt: Date;
  acmeEmail?: string;
  /** restic repository (schema: /path, sftp:…, rest:…, s3:…). */
  backupRepository: string;
  sshAuthorizedKeys: readonly string[];
  firstUser?: { email: string; firstName: string; lastName: string };
  settings: Readonly<Record<string, string | number | boolean>>;
  /** App secrets (env.yml app.secrets) to generate, with their kinds. */
  appSecrets: ReadonlyMap<string, SecretKind>;
  dkimSelector?: string;
}

/** A generated env.yml in plaintext, with what a caller needs to report and to scrub. */
export interface GeneratedEnv {
  /** Plaintext YAML of env.yml: encrypt it before it touches a disk. */
  text: string;
  /** Every generated secret value. */
  secrets: string[];
  /** Dotted paths of the generated values (e.g. `app.secrets.DATABASE_PASSWORD`). */
  generated: string[];
  /** The DKIM selector and the public TXT value to publish. */
  dkim: { selector: string; txt: string };
}

/**
 * Generates the key material of a new appliance (DKIM key, backup password, first-user transport
 * password, the app's secrets) and writes env.yml around it, with the DNS records to create in
 * its header comment, as the original env-create did.
 */
export async function generateEnv(options: EnvOptions): Promise<GeneratedEnv> {
  const secrets: string[] = [];
  const generated: string[] = [];
  const keep = (path: string, value: string): string => {
    secrets.push(value);
    generated.push(path);
    return value;
  };
  const selector = options.dkimSelector ?? 'default';
  const dkimKey = keep('mail.dkim.private_key', await generateSecret('rsa', 'dkim'));
  const dkim = { selector, txt: dkimTxtValue(dkimKey) };

  const appSecrets: Record<string, string> = {};
  for (const [name, kind] of [...options.appSecrets].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    appSecrets[name] = keep(`app.secrets.${name}`, await generateSecret(kind, `${options.name} ${name}`));

  const env: Record<string, unknown> = {
    domain: options.domain,
    allowed_hosts: [options.domain],
    tls: { acme: { enabled: true, ...(options.acmeEmail === undefined ? {} : { email: options.acmeEmail }) } },
    mail: { dkim: { selector, private_key: dkimKey } },
    backup: {
      repository: options.backupRepository,
      password: keep('backup.password', generateToken()),
    },
    ...(options.sshAuthorizedKeys.length > 0 ? { ssh: { authorized_keys: [...options.sshAuthorizedKeys] } } : {}),
    ...(options.firstUser === undefined
      ? {}
      : {
          first_user: {
            email: options.firstUser.email,
            first_name: options.firstUser.firstName,
            last_name: options.firstUser.lastName,
            transport_password: keep('first_user.transport_password', generateToken()),
          },
        }),
    app: { settings: { ...options.settings }, secrets: appSecrets },
  };
  const doc = new Document(env);
  doc.commentBefore = header(options, dkim);
  return { text: doc.toString({ lineWidth: 0 }), secrets, generated, dkim };
}

function header(options: EnvOptions, dkim: { selector: string; txt: string }): string {
  const lines = [
    ` env.yml of appliance ${options.name}, made by \`appliance config create\` on ${options.createdAt.toISOString()}.`,
    ' Never reuse it for another domain: the secrets would be shared.',
    ` backup.repository is ${options.backupRepository}: point it at an offsite restic repository.`,
    '',
    ` DNS records for ${options.domain}:`,
    ...formatDnsRecords(dnsRecords(options.domain, dkim), '   ').trimEnd().split('\n'),
  ];
  return lines.join('\n');
}
