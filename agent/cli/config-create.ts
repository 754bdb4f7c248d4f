import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { AgentError, describeError } from '../core/errors.ts';
import { formatIssue, type ConfigIssue } from '../core/result.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { assertWorkTree, uncommittedPaths } from '../provision/config-repo-git.ts';
import { credentialsContent, readTrustedSigners } from '../provision/bootstrap-doc.ts';
import { discoverSigningKey } from '../provision/discover-signer.ts';
import { prepareAppliance, type PreparedAppliance } from '../provision/create-prepare.ts';
import { existingOutFiles, writeAppliance, type WriteResult } from '../provision/create-write.ts';
import { formatDnsRecords } from '../provision/dns-records.ts';
import { parseSecretKind, type SecretKind } from '../provision/generate-secrets.ts';
import { selectApp } from '../provision/select-app.ts';
import { publicUrl, urlHasCredentials } from '../lib/public-url.ts';
import { readText, terminalProgress } from '../provision/terminal.ts';
import { resolveChoices } from './config-create-choices.ts';
import { processIo, type CliIo } from './io.ts';
import { pathExists } from '../lib/fs.ts';

/** Options of `appliance config create` as commander parses them. */
export interface CreateOptions {
  repo: string;
  name: string;
  domain: string;
  app?: string;
  recipient?: string[];
  out?: string;
  repoUrl?: string;
  branch: string;
  credentialsFile?: string;
  trustedSignerFile?: string[];
  sshKeyFile?: string[];
  acmeEmail?: string;
  backupRepository: string;
  firstUserEmail?: string;
  firstUserFirstName?: string;
  firstUserLastName?: string;
  setting?: string[];
  secret?: string[];
  timezone: string;
  sign?: boolean;
  commit: boolean;
  force?: boolean;
  printIdentity?: boolean;
}

/** Adds `create` to the `config` command group. */
export function registerCreate(group: Command, io: CliIo = processIo): void {
  group
    .command('create')
    .description('generate a new appliance: key material, SOPS-encrypted env.yml, seed ISO and recovery PDF')
    .requiredOption('--repo <dir>', 'config repository work tree')
    .requiredOption('--name <name>', 'appliance name (appliances/<name>/)')
    .requiredOption('--domain <fqdn>', "the appliance's fully qualified domain name")
    .option('--app <path>', 'app definition, e.g. apps/demo/app.yml (default: the only app in the repository)')
    .option('-r, --recipient <age...>', "operators' age recipients (default: those of a catch-all .sops.yaml rule)")
    .option(
      '-o, --out <dir>',
      'directory for bootstrap.yml, age.key, seed.iso, recovery.pdf (default ./appliance-<name>)',
    )
    .option('--repo-url <url>', 'clone URL the appliance uses (default: remote.origin.url when it is http(s))')
    .option('--branch <branch>', 'branch the appliance follows', 'main')
    .option('--credentials-file <file>', 'access token (or credentials YAML) the appliance uses for the repository')
    .option(
      '--trusted-signer-file <file...>',
      "OpenPGP public keys or SSH public key lines whose signed commits apply (default: git's user.signingkey)",
    )
    .option('--ssh-key-file <file...>', 'SSH public keys (authorized_keys lines) for administrators')
    .option('--acme-email <email>', 'contact address for the ACME account')
    .option('--backup-repository <repo>', 'restic repository (/path, sftp:…, rest:…, s3:…)', '/volatile/backup-test')
    .option('--first-user-email <email>', "create the app's first user with this address")
    .option('--first-user-first-name <name>', 'first name of the first user', 'Admin')
    .option('--first-user-last-name <name>', 'last name of the first user', 'User')
    .option('--setting <name=value...>', 'an app setting (env.yml app.settings) the app needs')
    .option('--secret <spec...>', 'a further app secret to generate, NAME or NAME:KIND (token, rsa, openpgp)')
    .option('--timezone <tz>', 'time zone of schedules in appliance.yml', 'UTC')
    .option('--sign', 'sign the commit (git commit -S with your configured key, OpenPGP or SSH)')
    .option('--no-commit', 'write the files but do not commit them')
    .option('--force', 'replace an existing appliance of that name and existing output files')
    .option('--print-identity', "also print the appliance's age identity (a secret) to stdout")
    .addHelpText(
      'after',
      `
Generates the appliance's age identity, the DKIM key, the backup password, every secret the
app definition references (secrets.NAME) and the webhook secret; writes appliances/<name>/env.yml
(SOPS, encrypted to the appliance and the operators) and appliance.yml, adds a .sops.yaml rule,
checks the result as the agent would, and commits it. The output directory (0700) receives, each
0600: bootstrap.yml (the agent's config with the webhook secret), age.key, seed.iso (cloud-init
NoCloud, label cidata) and recovery.pdf (QR codes of bootstrap.yml, age.key and env.yml).
Nothing secret is printed unless --print-identity is given.`,
    )
    .action(async (opts: CreateOptions) => {
      await runCreate(opts, io);
    });
}

/** Runs `config create`. Exit status 0 on success, 1 on any failure (nothing is half written). */
export async function runCreate(opts: CreateOptions, io: CliIo, deps: { now?: Date } = {}): Promise<void> {
  try {
    const repo = resolve(opts.repo);
    const out = resolve(opts.out ?? `appliance-${opts.name}`);
    const progress: Partial<ReturnType<typeof terminalProgress>> =
      io === processIo && process.stderr.isTTY
        ? terminalProgress((text) => {
            io.stderr(text);
          })
        : {};
    progress.onStep?.('generating key material and checking the new appliance');
    const replacing = await pathExists(join(repo, 'appliances', opts.name));
    const prepared = await prepare(repo, out, opts, io, deps);
    const written = await writeAppliance(prepared, {
      repo,
      out,
      replacing,
      commit: opts.commit,
      sign: opts.sign === true,
      env: io.env,
      ...progress,
    });
    for (const w of prepared.warnings) io.stderr(`appliance config create: warning: ${w}\n`);
    if (written.outDirOpen) io.stderr(`appliance config create: warning: ${out} is readable by others: chmod 700 it\n`);
    io.stdout(summary(prepared, written, repo, out, opts));
    if (opts.printIdentity === true) io.stdout(`\n${prepared.identity}\n`);
    io.setExitCode(0);
  } catch (err) {
    failCommand('config create', err, io);
  }
}

async function prepare(
  repo: string,
  out: string,
  opts: CreateOptions,
  io: CliIo,
  deps: { now?: Date },
): Promise<PreparedAppliance> {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(opts.name))
    throw new AgentError('NameInvalid', `'${opts.name}' is not a valid appliance name (a-z, 0-9, -)`, {
      terminal: true,
    });
  const needGit = opts.commit || opts.repoUrl === undefined;
  if (needGit) await assertWorkTree(repo, io.env);
  if ((await pathExists(join(repo, 'appliances', opts.name))) && opts.force !== true)
    throw new AgentError('ApplianceExists', `appliances/${opts.name} exists already (use --force to replace it)`, {
      terminal: true,
    });
  const taken = await existingOutFiles(out);
  if (taken.length > 0 && opts.force !== true)
    throw new AgentError('OutputExists', `${out} already has ${taken.join(', ')} (use --force to overwrite)`, {
      terminal: true,
    });
  if (opts.commit) {
    const dirty = await uncommittedPaths(repo, ['.sops.yaml', `appliances/${opts.name}`], io.env);
    if (dirty.length > 0)
      throw new AgentError(
        'RepoNotClean',
        `${dirty.join(', ')} ${dirty.length === 1 ? 'has' : 'have'} uncommitted changes: commit or stash them first (or use --no-commit)`,
        { terminal: true },
      );
  }
  const interactive = io === processIo && process.stdin.isTTY && process.stderr.isTTY;
  // Without --trusted-signer-file, the key the operator signs commits with.
  const discovered = (opts.trustedSignerFile ?? []).length === 0 ? await discoverSigningKey(repo, io.env) : undefined;
  const choices = await resolveChoices(
    repo,
    { ...opts, needSigner: (opts.trustedSignerFile ?? []).length === 0 && discovered === undefined },
    io,
    interactive,
  );
  const { repoUrl, app } = choices;
  if (urlHasCredentials(repoUrl))
    io.stderr('appliance config create: warning: the repository URL carries credentials; prefer --credentials-file\n');
  const credentials =
    opts.credentialsFile === undefined
      ? undefined
      : credentialsContent(await readText(opts.credentialsFile), opts.credentialsFile);
  const signerFiles = await Promise.all(
    [...(opts.trustedSignerFile ?? []), ...(choices.signerFile === undefined ? [] : [choices.signerFile])].map(
      async (path) => ({ path, text: await readText(path) }),
    ),
  );
  const signers = await readTrustedSigners(discovered === undefined ? signerFiles : [discovered]);
  if (signers.length === 0)
    throw new AgentError(
      'TrustedSignerMissing',
      'no trusted commit signer: pass --trusted-signer-file (or configure git user.signingkey) so the appliance applies only signed commits',
      { terminal: true },
    );
  const sshKeys = (await Promise.all((opts.sshKeyFile ?? []).map(readText)))
    .flatMap((t) => t.split(/\r?\n/))
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return prepareAppliance({
    repo,
    name: opts.name,
    domain: opts.domain.replace(/\.$/, ''),
    app: await selectApp(dirRepoReader(repo), app),
    recipients: opts.recipient ?? [],
    repoUrl,
    branch: opts.branch,
    ...(credentials === undefined ? {} : { credentials }),
    signers,
    sshAuthorizedKeys: [...new Set(sshKeys)],
    backupRepository: opts.backupRepository,
    settings: parseSettings(opts.setting ?? []),
    extraSecrets: parseSecrets(opts.secret ?? []),
    timezone: opts.timezone,
    now: deps.now ?? new Date(),
    ...(opts.acmeEmail === undefined ? {} : { acmeEmail: opts.acmeEmail }),
    ...(opts.firstUserEmail === undefined
      ? {}
      : {
          firstUser: {
            email: opts.firstUserEmail,
            firstName: opts.firstUserFirstName ?? 'Admin',
            lastName: opts.firstUserLastName ?? 'User',
          },
        }),
  });
}

function parseSettings(items: readonly string[]): Record<string, string | number | boolean> {
  const settings: Record<string, string | number | boolean> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? item : item.slice(0, eq);
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new AgentError('SettingInvalid', `--setting '${name}': expected NAME=VALUE`, { terminal: true });
    const raw = item.slice(eq + 1);
    settings[name] =
      raw === 'true' ? true : raw === 'false' ? false : /^-?(0|[1-9]\d{0,14})(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  return settings;
}

function parseSecrets(items: readonly string[]): Map<string, SecretKind> {
  const secrets = new Map<string, SecretKind>();
  for (const item of items) {
    const [name = '', kind = 'token'] = item.split(':', 2);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new AgentError('SecretNameInvalid', `--secret '${name}' is not a valid name`, { terminal: true });
    secrets.set(name, parseSecretKind(kind));
  }
  return secrets;
}

function summary(p: PreparedAppliance, w: WriteResult, repo: string, out: string, opts: CreateOptions): string {
  const lines: string[] = [];
  lines.push(`Appliance ${p.name} (${p.domain}), app ${p.appPath}`);
  lines.push(`Config repository ${repo}:`);
  for (const f of w.repoFiles) lines.push(`  ${f}`);
  if (w.commit !== undefined)
    lines.push(
      `  committed ${w.commit.commit.slice(0, 12)} "${w.commit.message}"${w.commit.signed ? ' (signed)' : ''}`,
    );
  else lines.push('  not committed (--no-commit)');
  lines.push(`Written to ${out} (mode 0600; they hold secrets: keep them offline):`);
  lines.push(`  bootstrap.yml  the agent's config: repository, trusted signers, webhook secret (webhook.secret)`);
  lines.push(`  age.key        the appliance's age identity`);
  lines.push(`  seed.iso       cloud-init NoCloud seed (label cidata): user-data + meta-data`);
  lines.push(`  recovery.pdf   printable recovery sheet, ${w.pdf.pages} pages, ${w.pdf.codes} QR codes`);
  lines.push(`Repository URL: ${publicUrl(p.repoUrl)} (branch ${opts.branch})`);
  lines.push(`Appliance recipient: ${p.applianceRecipient}`);
  lines.push(`Trusted signers: ${p.signers.join(', ')}`);
  lines.push(`Operator recipients: ${p.operatorRecipients.length > 0 ? p.operatorRecipients.join(', ') : '(none)'}`);
  lines.push(`Generated: ${p.generated.join(', ')}, webhook secret`);
  lines.push('');
  lines.push(`DNS records to create for ${p.domain}:`);
  lines.push(formatDnsRecords(p.dns, '  ').trimEnd());
  lines.push('');
  lines.push('Next steps:');
  let n = 1;
  if (w.commit === undefined) lines.push(`  ${n++}. review and commit appliances/${p.name} and .sops.yaml`);
  lines.push(`  ${n++}. git -C ${repo} push`);
  lines.push(
    `  ${n++}. configure the forge's webhook with the secret in ${join(out, 'bootstrap.yml')} (webhook.secret)`,
  );
  lines.push(`  ${n++}. boot the appliance image with ${join(out, 'seed.iso')} attached as a CD-ROM`);
  lines.push(`  ${n++}. print ${join(out, 'recovery.pdf')}, store it offline, then delete ${out}`);
  if (opts.backupRepository === '/volatile/backup-test')
    lines.push(`  ${n}. set backup.repository in env.yml to an offsite restic repository`);
  return `${lines.join('\n')}\n`;
}

/** Prints a failure as `appliance <command>: <reason>` (and any config issues) and sets exit status 1. */
export function failCommand(command: string, err: unknown, io: CliIo): void {
  io.stderr(`appliance ${command}: ${describeError(err).split('\n', 1)[0] ?? ''}\n`);
  const issues = err instanceof AgentError ? err.data['issues'] : undefined;
  if (Array.isArray(issues)) for (const i of issues as ConfigIssue[]) io.stderr(`  ${formatIssue(i)}\n`);
  const cause = err instanceof AgentError && err.cause !== undefined ? describeError(err.cause) : undefined;
  if (cause !== undefined) io.stderr(`  cause: ${cause.split('\n', 1)[0] ?? ''}\n`);
  io.setExitCode(1);
}
