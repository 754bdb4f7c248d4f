import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AgentBackups, dataRecovery } from '../backup/agent-backups.ts';
import { loadBootstrap } from '../config/bootstrap.ts';
import { decryptEnvWith } from '../config/decrypt-env.ts';
import { loadIdentities } from '../sops/index.ts';
import type { BootstrapConfig } from '../core/config-types.gen.ts';
import { agentClones } from './agent-clones.ts';
import { agentPreflight } from './agent-preflight.ts';
import { agentReports } from './agent-reports.ts';
import { readPreflightState } from '../engine/preflight-state.ts';
import { withPreflight } from '../core/preflight.ts';
import { AgentError, describeError } from '../core/errors.ts';
import { formatIssue, type ConfigIssue } from '../core/result.ts';
import { envFile } from '../config/load.ts';
import {
  initialStatus,
  recoveryStarted,
  withBackup,
  withCertificates,
  withClones,
  withWarnings,
  type AgentStatus,
  type Notice,
} from '../core/status.ts';
import { createCycle } from '../engine/loop/cycle.ts';
import { readCertificates } from '../drivers/ingress/certificates.ts';
import { dockerMachine } from '../machine/docker-machine.ts';
import { startHttpApi } from '../engine/http-api.ts';
import { startServicePage } from '../engine/service-page.ts';
import type { BootResult } from '../engine/boot.ts';
import { removeCloudInitCopies } from '../machine/boot/seed.ts';
import { Reconciler } from '../engine/loop/schedule.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { readRegularFile } from '../lib/fs.ts';
import { releaseMemory } from '../lib/memory.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import { GitSource, loadCredentials } from '../source/index.ts';
import { pino } from 'pino';
import { exitCodeFor } from './exit-codes.ts';

/** `appliance agent --config FILE`: the daemon that keeps the machine at the repo's state. */
export function register(program: Command): void {
  program
    .command('agent')
    .description('run the agent: follow the config repo and keep the machine at its desired state')
    .requiredOption('-c, --config <file>', 'bootstrap config (YAML)', '/etc/appliance/bootstrap.yml')
    .option('--once', 'run one cycle, print its outcome as JSON and exit (0 when in sync)')
    .option('--log-level <level>', 'pino log level', 'info')
    .option(
      '--boot-result <file>',
      "on the appliance: the outcome of 'appliance boot'; when it says service mode, serve the service page instead",
    )
    .addHelpText(
      'after',
      `
Logs are JSON lines on stdout, secrets redacted. The HTTP server on the bootstrap's listen
address serves GET /status, /metrics, /healthz and POST /sync (webhook, HMAC-SHA256 of the
body with the webhook secret in X-Hub-Signature-256: sha256=<hex>).`,
    )
    .action(async (opts: { config: string; once?: boolean; logLevel: string; bootResult?: string }) => {
      try {
        if (opts.bootResult !== undefined && (await serviceModeServed(opts.bootResult, opts.config))) return;
        await runAgent(opts);
      } catch (err) {
        process.stderr.write(`appliance agent: ${describeError(err)}\n`);
        process.exitCode = exitCodeFor(err);
      }
    });
}

async function runAgent(opts: { config: string; once?: boolean; logLevel: string }): Promise<void> {
  const secrets = new SecretRegistry();
  const log = createLogger({ level: opts.logLevel, secrets, destination: pino.destination(1) });
  const { config, warnings: bootWarnings } = await readBootstrap(opts.config);
  for (const w of bootWarnings) log.warn({ file: w.file, path: w.path }, w.message);
  const standing: Notice[] = config.trust.allow_unsigned
    ? [{ code: 'UnsignedCommitsAllowed', message: bootWarnings.map((w) => w.message).join('; ') }]
    : [];
  // The bootstrap is the agent's configuration: its engine address wins; every Docker client reads DOCKER_HOST.
  if (config.docker_host !== undefined) process.env['DOCKER_HOST'] = config.docker_host;
  const { identities, warnings } = await loadIdentities(config.age_identity_file);
  secrets.add(...identities);
  for (const w of warnings) log.warn(formatIssue(w));
  const webhookSecret = await readWebhookSecret(config);
  if (webhookSecret !== undefined) secrets.add(webhookSecret);
  const auth =
    config.repo.credentials_file === undefined
      ? undefined
      : await loadCredentials(config.repo.credentials_file, { log });
  if (auth !== undefined) secrets.add(auth.password);

  const source = new GitSource(
    { log, secrets },
    {
      url: config.repo.url,
      branch: config.repo.branch,
      stateDir: join(config.state_dir, 'source'),
      allowRewind: config.trust.allow_rewind,
      allowInsecureHttp: config.repo.allow_insecure_http,
      ...(config.trust.min_revision === undefined ? {} : { minRevision: config.trust.min_revision }),
      ...(auth === undefined ? {} : { auth }),
      // Signers are required unless the bootstrap file says allow_unsigned (then nothing is checked).
      ...(config.trust.allow_unsigned ? {} : { trustedSigners: config.trust.signers }),
    },
  );
  const statusFile = join(config.state_dir, 'status.json');
  const restored = await readStatus(statusFile, config.name);
  // The cycle reads the status the reconciler last published (stalled revision, last error).
  let current: AgentStatus = restored ?? initialStatus(config.name, new Date());
  // Backup jobs run exclusive of cycles (set once the reconciler exists, before anything runs).
  let exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn();
  let onRecovering: (revision: string) => Promise<void> = () => Promise.resolve();
  const backups = new AgentBackups({
    stateDir: config.state_dir,
    log,
    secrets,
    exclusive: (fn) => exclusive(fn),
  });
  const clones = agentClones({
    engineStateDir: join(config.state_dir, 'engine'),
    log,
    exclusive: (fn) => exclusive(fn),
  });
  // Where the ingress keeps its certificates (known once a revision is applied), for /status.
  let certificatesDir: string | undefined;
  // Forge commit statuses and the status ref, sent beside the loop after each cycle.
  const reports = agentReports({ config, log, secrets, auth, backups });
  const decrypt = decryptEnvWith(identities);
  // Review heads tried on clones in the loop's free time (the reconciler exists before anything runs).
  const preflight = agentPreflight({
    config,
    log,
    secrets,
    auth,
    decrypt,
    clones: clones.runtime,
    report: (sha, status) => {
      reports.preflight(sha, status);
    },
    slot: (fn) => reconciler.background(fn),
  });
  const cycle = createCycle({
    name: config.name,
    source,
    decrypt,
    driverFor: dockerMachine(join(config.state_dir, 'engine'), {
      log,
      recover: dataRecovery({ stateDir: config.state_dir, log, secrets }),
    }),
    stateDir: join(config.state_dir, 'engine'),
    log,
    secrets,
    status: () => current,
    onRecovering: (revision) => onRecovering(revision),
    onApplied: (desired, reader) => {
      certificatesDir = desired.app.ingress.proxy?.storageDir;
      reports.applied(desired);
      clones.applied(desired);
      preflight.applied(desired, reader);
      return backups.update(desired, () => reader.readFile(envFile(config.name)).catch(() => undefined));
    },
    hold: async () => {
      const holder = await backups.holder();
      return holder === undefined
        ? undefined
        : {
            code: 'RestoreInProgress',
            message: `a ${holder.job} (pid ${holder.pid}, since ${holder.startedAt}) holds the machine; waiting`,
          };
    },
  });
  const reconciler = new Reconciler(
    {
      cycle,
      log,
      afterWork: releaseMemory,
      onCycle: (outcome, status) => {
        reports.cycleFinished(outcome, status);
        // One cycle and out (--once) tries no review head.
        if (opts.once !== true) preflight.cycleFinished();
      },
      onStatus: (s) => {
        current = s;
        return writeFileAtomic(statusFile, `${JSON.stringify(secrets.scrubDeep(s), null, 2)}\n`, { mode: 0o600 });
      },
    },
    { appliance: config.name, intervalMs: config.poll_interval_seconds * 1000, status: current },
  );

  exclusive = (fn) => reconciler.exclusive(fn);
  onRecovering = (revision) => reconciler.update((s) => recoveryStarted(s, revision, new Date()));

  if (opts.once === true) {
    const outcome = await reconciler.trigger('once');
    process.stdout.write(`${JSON.stringify(secrets.scrubDeep(outcome))}\n`);
    process.exitCode = outcome.kind === 'applied' || outcome.kind === 'unchanged' ? 0 : 1;
    // What is still queued gets a few seconds: a down forge must not hold `--once`.
    await reports.stop(5000);
    await backups.stop();
    await reconciler.stop();
    return;
  }
  const r = reconciler;
  const api = await startHttpApi(
    {
      status: async () => {
        const certs =
          certificatesDir === undefined ? undefined : await readCertificates(certificatesDir).catch(() => undefined);
        const served = withCertificates(r.status, certs, new Date());
        const withBackups = withBackup(served, await backups.view().catch(() => undefined));
        const tried = await readPreflightState(preflight.stateDir);
        return withPreflight(withClones(withWarnings(withBackups, standing), clones.runtime.list()), tried);
      },
      trigger: (reason) => void r.trigger(reason),
      log,
      secrets,
    },
    {
      listen: config.listen,
      staleAfterMs: config.poll_interval_seconds * 3000 + 600_000,
      ...(webhookSecret === undefined ? {} : { webhookSecret }),
    },
  );
  log.info({ appliance: config.name, url: api.url, repo: config.repo.url }, 'agent started');
  r.start();
  await waitForSignal(log);
  await reports.stop(2000);
  await backups.stop();
  clones.runtime.stop();
  await r.stop();
  await preflight.stop();
  await api.close();
  log.info('agent stopped');
}

/**
 * On the appliance: removes cloud-init's cached user-data (the agent has its own 0600 copies),
 * then serves the service page when the boot found no configuration or no storage. True when it
 * served (until a signal), false when the agent should run.
 */
async function serviceModeServed(resultFile: string, bootstrapFile: string): Promise<boolean> {
  const log = createLogger({ level: 'info', secrets: new SecretRegistry(), destination: pino.destination(1) });
  const removed = await removeCloudInitCopies();
  if (removed.length > 0) log.info({ removed }, "removed cloud-init's cached user-data");
  const result = await readBootResult(resultFile);
  if (result.mode === 'run') return false;
  // Reachable from outside even when the bootstrap's listen address is loopback: it says why.
  const configured = await readRegularFile(bootstrapFile)
    .then((text) => (loadBootstrap(text, bootstrapFile) as { value?: BootstrapConfig }).value?.listen)
    .catch(() => undefined);
  const port = configured?.slice(configured.lastIndexOf(':') + 1) ?? String(SERVICE_PORT);
  const page = await startServicePage(result, { listen: `0.0.0.0:${port}`, log });
  await waitForSignal(log);
  await page.close();
  return true;
}

/** The service page's port when no bootstrap names one (the bootstrap's default listen port). */
export const SERVICE_PORT = 8700;

async function readBootResult(file: string): Promise<BootResult> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BootResult;
  } catch (err) {
    return {
      mode: 'service',
      code: 'BootNotRun',
      reason: `the boot step left no result in ${file} (${describeError(err)}); see journalctl -u appliance-boot`,
    };
  }
}

async function readBootstrap(file: string): Promise<{ config: BootstrapConfig; warnings: ConfigIssue[] }> {
  const text = await readRegularFile(file).catch((err: unknown) => {
    throw new AgentError('BootstrapUnreadable', `${file}: cannot read the bootstrap config (${describeError(err)})`, {
      terminal: true,
    });
  });
  const result = loadBootstrap(text, file);
  if (!result.ok) {
    throw new AgentError('BootstrapInvalid', result.errors.map(formatIssue).join('\n'), { terminal: true });
  }
  return { config: result.value, warnings: result.warnings };
}

async function readWebhookSecret(config: BootstrapConfig): Promise<string | undefined> {
  const webhook = config.webhook;
  if (webhook?.secret !== undefined) return webhook.secret;
  if (webhook?.secret_file === undefined) return undefined;
  const text = await readRegularFile(webhook.secret_file);
  return text.trim();
}

async function readStatus(file: string, appliance: string): Promise<AgentStatus | undefined> {
  try {
    const status = JSON.parse(await readFile(file, 'utf8')) as AgentStatus;
    return status.appliance === appliance ? status : undefined;
  } catch {
    return undefined;
  }
}

function waitForSignal(log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
