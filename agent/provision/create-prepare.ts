import { AgentError } from '../core/errors.ts';
import type { ConfigIssue } from '../core/result.ts';
import { decryptEnvWith } from '../config/decrypt-env.ts';
import { envFile, type RepoReader } from '../config/load.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { encryptSops, generateIdentity } from '../sops/index.ts';
import { validateRepo } from '../config/validate-repo.ts';
import { appNeeds } from './app-needs.ts';
import { renderApplianceYml } from './appliance-template.ts';
import { buildBootstrap, CREDENTIALS_PATH } from './bootstrap-doc.ts';
import { dnsRecords, type DnsRecord } from './dns-records.ts';
import { generateEnv } from './env-template.ts';
import { generateToken, type SecretKind } from './generate-secrets.ts';
import { renderSeedUserData } from './seed-user-data.ts';
import { assertRecipients, matchRule, upsertApplianceRule } from './sops-rules.ts';
import type { TrustedSigner } from '../core/config-types.gen.ts';
import { renderMetaData } from './user-data.ts';
import type { LoadedApp } from './select-app.ts';

/** Everything `config create` decided and generated, in memory, before anything is written. */
export interface PreparedAppliance {
  name: string;
  domain: string;
  createdAt: Date;
  appPath: string;
  applianceRecipient: string;
  operatorRecipients: string[];
  /** Repository-relative path → new content. */
  repoFiles: Map<string, string>;
  /** Output file name → content; every one holds secrets. */
  outFiles: { bootstrap: string; ageKey: string; userData: string; metaData: string; envYml: string };
  identity: string;
  dkim: { selector: string; txt: string };
  dns: DnsRecord[];
  /** Every secret value generated or embedded (to keep them off stdout). */
  secrets: string[];
  /** Dotted env.yml paths of the generated secrets. */
  generated: string[];
  repoUrl: string;
  /** Names of the trusted commit signers in bootstrap.yml. */
  signers: string[];
  warnings: string[];
}

/** Inputs of `prepareAppliance`, already read from files and the command line. */
export interface PrepareInput {
  repo: string;
  name: string;
  domain: string;
  app: LoadedApp;
  /** Operators' recipients; empty: those of the .sops.yaml rule that would apply today. */
  recipients: readonly string[];
  repoUrl: string;
  branch: string;
  /** Content of the repository credentials file to embed, if any. */
  credentials?: string;
  signers: readonly TrustedSigner[];
  sshAuthorizedKeys: readonly string[];
  acmeEmail?: string;
  backupRepository: string;
  firstUser?: { email: string; firstName: string; lastName: string };
  settings: Readonly<Record<string, string | number | boolean>>;
  extraSecrets: ReadonlyMap<string, SecretKind>;
  timezone: string;
  now: Date;
}

/**
 * Generates the key material and every file of a new appliance, and checks the result as the
 * agent would (schemas, references, .sops.yaml, decryption with the new identity) without
 * writing anything: a failure here leaves no trace.
 */
export async function prepareAppliance(input: PrepareInput): Promise<PreparedAppliance> {
  const warnings: string[] = [];
  const reader = dirRepoReader(input.repo);
  const env = envFile(input.name);
  const sopsText = await reader.readFile('.sops.yaml');

  const operators = [...new Set(input.recipients.length > 0 ? input.recipients : catchAll(sopsText, env))];
  assertRecipients(operators);
  if (operators.length === 0)
    warnings.push(
      'env.yml is encrypted for the appliance alone: no operator can edit it without age.key (pass --recipient)',
    );

  const needs = appNeeds(input.app.definition);
  const missing = [...needs.settings].filter((s) => !(s in input.settings)).sort();
  if (missing.length > 0)
    throw new AgentError(
      'SettingsMissing',
      `${input.app.path} reads ${missing.map((s) => `settings.${s}`).join(', ')}: give ${missing.map((s) => `--setting ${s}=VALUE`).join(' ')}`,
      { terminal: true, data: { settings: missing } },
    );
  const appSecrets = new Map(needs.secrets);
  for (const [name, kind] of input.extraSecrets) appSecrets.set(name, kind);
  const clash = [...appSecrets.keys()].filter((s) => s in input.settings);
  if (clash.length > 0)
    throw new AgentError('SettingIsSecret', `${clash.join(', ')} are secrets: do not give them with --setting`, {
      terminal: true,
    });

  const { identity, recipient } = await generateIdentity();
  const generated = await generateEnv({
    name: input.name,
    domain: input.domain,
    createdAt: input.now,
    backupRepository: input.backupRepository,
    sshAuthorizedKeys: input.sshAuthorizedKeys,
    settings: input.settings,
    appSecrets,
    ...(input.acmeEmail === undefined ? {} : { acmeEmail: input.acmeEmail }),
    ...(input.firstUser === undefined ? {} : { firstUser: input.firstUser }),
  });
  const allRecipients = [recipient, ...operators.filter((r) => r !== recipient)];
  const envYml = await encryptSops(generated.text, { file: env, recipients: allRecipients, format: 'yaml' });
  const applianceYml = renderApplianceYml({
    name: input.name,
    domain: input.domain,
    appPath: input.app.path,
    app: input.app.definition,
    timezone: input.timezone,
  });
  const repoFiles = new Map([
    [`appliances/${input.name}/env.yml`, envYml],
    [`appliances/${input.name}/appliance.yml`, applianceYml],
    ['.sops.yaml', upsertApplianceRule(sopsText, input.name, allRecipients)],
  ]);
  await checkAsAgent(reader, input.name, repoFiles, identity);

  const webhookSecret = generateToken();
  const bootstrap = buildBootstrap({
    name: input.name,
    repoUrl: input.repoUrl,
    branch: input.branch,
    credentials: input.credentials !== undefined,
    signers: input.signers,
    webhookSecret,
  });
  const ageKey = `# created: ${input.now.toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  const hostname = input.domain.split('.')[0] ?? input.name;
  const userData = renderSeedUserData({
    bootstrap: bootstrap.doc,
    ageIdentity: ageKey,
    sshAuthorizedKeys: input.sshAuthorizedKeys,
    hostname,
    fqdn: input.domain,
    ...(input.credentials === undefined ? {} : { files: [{ path: CREDENTIALS_PATH, content: input.credentials }] }),
  });
  const stamp = input.now
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 14);
  const metaData = renderMetaData({ instanceId: `iid-${input.name}-${stamp}`, hostname: input.domain });

  const secrets = [identity, webhookSecret, ...generated.secrets];
  if (input.credentials !== undefined) secrets.push(...credentialValues(input.credentials));
  return {
    name: input.name,
    domain: input.domain,
    createdAt: input.now,
    appPath: input.app.path,
    applianceRecipient: recipient,
    operatorRecipients: operators.filter((r) => r !== recipient),
    repoFiles,
    outFiles: { bootstrap: bootstrap.text, ageKey, userData, metaData, envYml },
    identity,
    dkim: generated.dkim,
    dns: dnsRecords(input.domain, generated.dkim),
    secrets,
    generated: generated.generated,
    repoUrl: input.repoUrl,
    signers: input.signers.map((s) => s.name),
    warnings,
  };
}

function catchAll(sopsText: string | undefined, file: string): string[] {
  return matchRule(sopsText, file)?.recipients ?? [];
}

/** Validates the new appliance over the repository as it will be, decrypting with its identity. */
async function checkAsAgent(
  base: RepoReader,
  name: string,
  files: ReadonlyMap<string, string>,
  identity: string,
): Promise<void> {
  const dir = `appliances/${name}`;
  const overlay: RepoReader = {
    readFile: async (rel) => files.get(rel) ?? (rel.startsWith(`${dir}/`) ? undefined : base.readFile(rel)),
    listDir: async (rel) => {
      if (rel === dir) return ['appliance.yml', 'env.yml'];
      const entries = await base.listDir(rel);
      return rel === 'appliances' && !entries.includes(name) ? [...entries, name].sort() : entries;
    },
  };
  const report = await validateRepo(overlay, { names: [name], decrypt: decryptEnvWith([identity]) });
  if (!report.ok) throw invalid(report.errors);
}

function invalid(issues: ConfigIssue[]): AgentError {
  return new AgentError('ApplianceInvalid', `the new appliance would not validate (${issues.length} problems)`, {
    terminal: true,
    data: { issues },
  });
}

function credentialValues(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*(token|password)\s*:\s*['"]?([^'"]+?)['"]?\s*$/.exec(l)?.[2])
    .filter((v): v is string => v !== undefined && v !== '');
}
