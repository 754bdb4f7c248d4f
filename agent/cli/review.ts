import type { Command } from 'commander';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import type { DesiredState } from '../core/desired.ts';
import type { JsonObject, JsonValue } from '../core/json.ts';
import { plan } from '../core/plan.ts';
import { predictMachine } from '../core/reported-state.ts';
import {
  imageChanges,
  settingChanges,
  verdictOf,
  type ApplianceReview,
  type ImageChange,
  type ReviewReport,
} from '../core/review.ts';
import { reviewJson, reviewMarkdown } from '../core/review-render.ts';
import { formatIssue } from '../core/result.ts';
import { decryptEnvFromIdentityFile } from '../config/decrypt-env.ts';
import { applianceFile, envFile, type DecryptEnv, type RepoReader } from '../config/load.ts';
import { appPathOf, touchesAppliance, yamlAt } from '../config/appliance-files.ts';
import { loadForReview } from '../config/review-load.ts';
import { SCHEMAS } from '../config/schemas.ts';
import { collectSecretPaths } from '../config/schema-walk.ts';
import { validateRepo } from '../config/validate-repo.ts';
import { openLocalRepo, type LocalRepo } from '../source/local-repo.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';

export interface ReviewOptions {
  base: string;
  head: string;
  repo?: string;
  format?: string;
  identity?: string;
}

/**
 * Secret digests in container specs are keyed per appliance; a review compares two revisions
 * rendered with the same key, so any fixed key tells the same changes.
 */
const REVIEW_SPEC_KEY = 'appliance-review';

/** `appliance review --base REV --head REV`: what a change does to each appliance it touches. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('review')
    .description('review a change of the config repo: validation, desired-state diff and predicted plan per appliance')
    .requiredOption('--base <rev>', 'the revision the change starts from (ref name or commit id)')
    .requiredOption('--head <rev>', 'the revision under review')
    .option('--repo <dir>', 'checkout (or bare clone) of the config repository', '.')
    .option('--format <format>', 'markdown or json', 'markdown')
    .option('-i, --identity <keyfile>', 'age identity file: also decrypt env.yml, validate and compare its values')
    .addHelpText(
      'after',
      `
For every appliance whose files (or app definition) differ between --base and --head: the
validation of --head, the images and settings that change (secret values never shown; without
--identity env.yml values are compared as ciphertext), and the plan the agent would make,
predicted against the state the appliance last reported in refs/appliances/<name>/status
(fetch those refs first), or against an empty machine when it reported none.
Exit status 0 when nothing is invalid or refused, 1 otherwise, 2 when the command could not run.`,
    )
    .action(async (opts: ReviewOptions) => {
      await runReview(opts, io);
    });
}

export async function runReview(opts: ReviewOptions, io: CliIo, deps: { decrypt?: DecryptEnv } = {}): Promise<void> {
  try {
    if (opts.format !== undefined && opts.format !== 'markdown' && opts.format !== 'json') {
      throw new AgentError('UsageError', `--format must be markdown or json, not ${opts.format}`, { terminal: true });
    }
    let decrypt = deps.decrypt;
    if (decrypt === undefined && opts.identity !== undefined) {
      const loaded = await decryptEnvFromIdentityFile(opts.identity);
      for (const w of loaded.warnings) io.stderr(`appliance review: warning: ${formatIssue(w)}\n`);
      decrypt = loaded.decrypt;
    }
    const repo = await openLocalRepo(opts.repo ?? '.');
    const report = await review(repo, await repo.resolve(opts.base), await repo.resolve(opts.head), decrypt);
    io.stdout(opts.format === 'json' ? reviewJson(report) : reviewMarkdown(report));
    io.setExitCode(report.ok ? EXIT.ok : EXIT.invalid);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    io.stderr(`appliance review: ${describeError(err)}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}

/** Reviews every appliance the change from `base` to `head` touches. */
export async function review(
  repo: LocalRepo,
  base: string,
  head: string,
  decrypt: DecryptEnv | undefined,
): Promise<ReviewReport> {
  const from = repo.readerAt(base);
  const to = repo.readerAt(head);
  const names = [...new Set([...(await from.listDir('appliances')), ...(await to.listDir('appliances'))])].sort();
  const appliances: ApplianceReview[] = [];
  for (const name of names) {
    if (!(await touchesAppliance(from, to, name))) continue;
    appliances.push(await reviewOne(repo, { base, head, from, to }, name, decrypt));
  }
  const ok = appliances.every((a) => a.verdict !== 'invalid' && a.verdict !== 'refused');
  return { base, head, appliances, ok };
}

interface Sides {
  base: string;
  head: string;
  from: RepoReader;
  to: RepoReader;
}

async function reviewOne(
  repo: LocalRepo,
  s: Sides,
  name: string,
  decrypt: DecryptEnv | undefined,
): Promise<ApplianceReview> {
  const removed =
    (await s.to.readFile(applianceFile(name))) === undefined && (await s.to.readFile(envFile(name))) === undefined;
  const before = await loadForReview(s.from, name, s.base, decrypt);
  const after = removed ? undefined : await loadForReview(s.to, name, s.head, decrypt);
  const validation = removed
    ? { errors: [], warnings: [] }
    : await validateRepo(s.to, { names: [name], revision: s.head, ...(decrypt === undefined ? {} : { decrypt }) });
  const settings = [
    ...(await yamlChanges(s, applianceFile(name), (p) => p.startsWith('/images/'))),
    ...(await appChanges(s, name)),
    ...envChanges(
      name,
      before.outcome.documents?.envTree ?? (await encryptedTree(s.from, envFile(name))),
      after?.outcome.documents?.envTree ?? (await encryptedTree(s.to, envFile(name))),
      decrypt !== undefined,
    ),
  ];
  const r: Omit<ApplianceReview, 'verdict'> = {
    name,
    decrypted: decrypt !== undefined,
    validation: { errors: validation.errors, warnings: validation.warnings },
    images:
      before.desired !== undefined && (removed || after?.desired !== undefined)
        ? imageChanges(before.desired, after?.desired)
        : rawImageChanges(await yamlAt(s.from, applianceFile(name)), await yamlAt(s.to, applianceFile(name))),
    settings,
  };
  if (removed)
    r.planNote = 'The appliance is removed from the repository: its agent stops following it; nothing is planned.';
  else if (after?.desired === undefined || validation.errors.length > 0) {
    r.planNote = 'No plan: the configuration at the head revision is invalid, and the agent would not apply it.';
  } else {
    const predicted = await predictFor(repo, name, after.desired, before.desired, decrypt);
    r.plan = plan(after.desired, predicted.actual, {
      now: new Date(Date.parse(predicted.now)),
      specKey: REVIEW_SPEC_KEY,
      ...(predicted.lastApplied === undefined ? {} : { lastApplied: predicted.lastApplied }),
    });
    r.planBasis = `${predicted.basis}${decrypt === undefined ? '; env.yml values unknown without a key (a changed ciphertext counts as a changed value)' : ''}`;
  }
  return { ...r, verdict: verdictOf(r, removed) };
}

/** The machine to plan against: the reported applied revision, else (no report) an empty one. */
async function predictFor(
  repo: LocalRepo,
  name: string,
  head: DesiredState,
  base: DesiredState | undefined,
  decrypt: DecryptEnv | undefined,
): Promise<ReturnType<typeof predictMachine> & { now: string }> {
  const found = await repo.report(name);
  if (found === undefined)
    return { ...predictMachine(head, undefined, undefined, REVIEW_SPEC_KEY), now: '1970-01-01T00:00:00Z' };
  const report = found.state;
  const now = report.reportedAt;
  const rev = report.lastAppliedRevision;
  if (rev === undefined) {
    return {
      ...predictMachine(head, undefined, report, REVIEW_SPEC_KEY),
      now,
      basis: 'an empty machine (the appliance reports no applied revision yet)',
    };
  }
  if (await repo.has(rev)) {
    const applied = await loadForReview(repo.readerAt(rev), name, rev, decrypt);
    if (applied.desired !== undefined)
      return { ...predictMachine(head, applied.desired, report, REVIEW_SPEC_KEY), now };
  }
  if (base === undefined) return { ...predictMachine(head, undefined, report, REVIEW_SPEC_KEY), now };
  const predicted = predictMachine(head, base, report, REVIEW_SPEC_KEY);
  return {
    ...predicted,
    now,
    basis: `the base revision (the reported revision ${rev.slice(0, 12)} could not be read here)`,
  };
}

async function yamlChanges(s: Sides, file: string, skip?: (path: string) => boolean) {
  return settingChanges(file, await yamlAt(s.from, file), await yamlAt(s.to, file), {
    showValues: true,
    ...(skip === undefined ? {} : { skip }),
  });
}

/** Changes of the app definition (its images are shown as image changes). */
async function appChanges(s: Sides, name: string) {
  const a = await appPathOf(s.from, name);
  const b = await appPathOf(s.to, name);
  if (a === undefined || b === undefined || a !== b) return [];
  return yamlChanges(s, b, (p) => /^\/services\/[^/]+\/image$/.test(p));
}

async function encryptedTree(reader: RepoReader, file: string): Promise<JsonValue | undefined> {
  const doc = await yamlAt(reader, file);
  if (doc === undefined) return undefined;
  const { sops: _metadata, ...tree } = doc;
  return tree;
}

/** env.yml: decrypted values compared (secrets named only), or, without a key, ciphertexts per key. */
function envChanges(name: string, from: JsonValue | undefined, to: JsonValue | undefined, decrypted: boolean) {
  const secretPaths = new Set([
    ...(from === undefined ? [] : collectSecretPaths(SCHEMAS.env, from)),
    ...(to === undefined ? [] : collectSecretPaths(SCHEMAS.env, to)),
  ]);
  return settingChanges(envFile(name), from, to, { secretPaths, showValues: decrypted });
}

/** Image changes read from appliance.yml's `images` alone, when a side does not load. */
function rawImageChanges(from: JsonObject | undefined, to: JsonObject | undefined): ImageChange[] {
  const images = (doc: JsonObject | undefined): Map<string, string> => {
    const m = doc?.['images'];
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return new Map();
    return new Map(Object.entries(m).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v] as const] : [])));
  };
  const a = images(from);
  const b = images(to);
  return [...new Set([...a.keys(), ...b.keys()])].sort().flatMap((service) => {
    const x = a.get(service);
    const y = b.get(service);
    return x === y ? [] : [{ service, ...(x === undefined ? {} : { from: x }), ...(y === undefined ? {} : { to: y }) }];
  });
}
