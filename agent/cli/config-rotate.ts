import { resolve } from 'node:path';
import type { Command } from 'commander';
import { AgentError } from '../core/errors.ts';
import { envFile } from '../config/load.ts';
import { assertWorkTree, commitPaths, uncommittedPaths, type CommitResult } from '../provision/config-repo-git.ts';
import { writeRepoFiles } from '../provision/create-write.ts';
import { dnsRecords, formatDnsRecords } from '../provision/dns-records.ts';
import { planRotation, rotationMessage, type RotatePlan } from '../provision/rotate-appliance.ts';
import { failCommand } from './config-create.ts';
import { identitiesFor } from './decrypt.ts';
import { processIo, type CliIo } from './io.ts';

/** Options of `appliance config rotate` as commander parses them. */
export interface RotateOptions {
  repo: string;
  name: string;
  identity?: string;
  recipient?: string[];
  applianceRecipient?: string;
  dropApplianceRecipient?: boolean;
  regenerate?: string[];
  sign?: boolean;
  commit: boolean;
}

/** Adds `rotate` to the `config` command group. */
export function registerRotate(group: Command, io: CliIo = processIo): void {
  group
    .command('rotate')
    .description("re-encrypt an appliance's env.yml for new recipients and/or regenerate chosen secrets")
    .requiredOption('--repo <dir>', 'config repository work tree')
    .requiredOption('--name <name>', 'appliance name (appliances/<name>/)')
    .option('-i, --identity <keyfile>', 'age identity file that decrypts env.yml today')
    .option('-r, --recipient <age...>', "the new full set of operators' recipients (the appliance's own is kept)")
    .option('--appliance-recipient <age>', "the appliance's recipient (default: the first of its .sops.yaml rule)")
    .option('--drop-appliance-recipient', "do not encrypt for the appliance's own key any more")
    .option('--regenerate <path...>', 'env.yml secrets to regenerate: app.secrets.NAME, backup.password, dkim, …')
    .option('--sign', 'sign the commit (git commit -S with your configured key)')
    .option('--no-commit', 'write the files but do not commit them')
    .addHelpText(
      'after',
      `
The identity file is --identity, else $APPLIANCE_AGE_IDENTITY_FILE, else $SOPS_AGE_KEY_FILE.
A new recipient set re-encrypts env.yml under a new data key and updates the appliance's
.sops.yaml rule; --regenerate alone keeps the data key and changes only those values. Paths
that do not hold generated secrets (domain, backup.repository, sentry.dsn, …) are refused.
Removed recipients can still read old versions in git history: regenerate what they knew.
The commit message lists the changed paths, never values.`,
    )
    .action(async (opts: RotateOptions) => {
      await runRotate(opts, io);
    });
}

/** Runs `config rotate`. Exit status 0 on success, 1 on failure (then nothing is changed). */
export async function runRotate(opts: RotateOptions, io: CliIo): Promise<void> {
  try {
    const repo = resolve(opts.repo);
    if (opts.commit) {
      await assertWorkTree(repo, io.env);
      const dirty = await uncommittedPaths(repo, [envFile(opts.name), '.sops.yaml'], io.env);
      if (dirty.length > 0)
        throw new AgentError(
          'RepoNotClean',
          `${dirty.join(', ')} ${dirty.length === 1 ? 'has' : 'have'} uncommitted changes: commit or stash them first (or use --no-commit)`,
          { terminal: true },
        );
    }
    const { identities } = await identitiesFor(opts.identity, io, 'config rotate');
    const plan = await planRotation({
      repo,
      name: opts.name,
      identities,
      dropApplianceRecipient: opts.dropApplianceRecipient === true,
      regenerate: opts.regenerate ?? [],
      ...(opts.recipient === undefined ? {} : { recipients: opts.recipient }),
      ...(opts.applianceRecipient === undefined ? {} : { applianceRecipient: opts.applianceRecipient }),
    });
    const undo = await writeRepoFiles(repo, plan.repoFiles);
    let commit: CommitResult | undefined;
    if (opts.commit) {
      try {
        commit = await commitPaths(repo, [...plan.repoFiles.keys()], rotationMessage(opts.name, plan), {
          sign: opts.sign === true,
          env: io.env,
        });
      } catch (err) {
        await undo();
        throw new AgentError('CommitFailed', 'git commit failed; the repository files were taken back', {
          terminal: true,
          cause: err,
        });
      }
    }
    for (const n of plan.notes) io.stderr(`appliance config rotate: note: ${n}\n`);
    io.stdout(summary(opts.name, plan, commit));
    io.setExitCode(0);
  } catch (err) {
    failCommand('config rotate', err, io);
  }
}

function summary(name: string, plan: RotatePlan, commit: CommitResult | undefined): string {
  const lines = [`Appliance ${name}: ${[...plan.repoFiles.keys()].join(', ')} updated`];
  if (plan.recipientsChanged) {
    lines.push('Recipients (new data key):');
    for (const r of plan.after)
      lines.push(
        `  ${plan.before.includes(r) ? ' ' : '+'} ${r}${r === plan.applianceRecipient ? '  (appliance)' : ''}`,
      );
    for (const r of plan.before.filter((x) => !plan.after.includes(x))) lines.push(`  - ${r}`);
  }
  if (plan.regenerated.length > 0) lines.push(`Regenerated: ${plan.regenerated.join(', ')}`);
  lines.push(
    commit === undefined
      ? 'Not committed (--no-commit).'
      : `Committed ${commit.commit.slice(0, 12)} "${rotationMessage(name, plan)}"${commit.signed ? ' (signed)' : ''}; push it to apply.`,
  );
  if (plan.dkim !== undefined) {
    const dkim = dnsRecords(plan.dkim.domain, plan.dkim).filter((r) => r.name.includes('._domainkey.'));
    lines.push('', 'New DKIM record to publish:', formatDnsRecords(dkim, '  ').trimEnd());
  }
  return `${lines.join('\n')}\n`;
}
