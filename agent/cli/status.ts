import http from 'node:http';
import type { Command } from 'commander';
import type { AgentStatus } from '../core/status.ts';
import { AgentError, describeError } from '../core/errors.ts';
import { readBootstrapFile } from './bootstrap-defaults.ts';
import { exitCodeFor } from './exit-codes.ts';
import { processIo, type CliIo } from './io.ts';

interface StatusFlags {
  config?: string;
  url?: string;
  json?: boolean;
}

/** `appliance status`: the running agent's /status, readable. */
export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('status')
    .description("show the running agent's status (its GET /status) readably")
    .option(
      '-c, --config <file>',
      "bootstrap file with the agent's listen address (default: /etc/appliance/bootstrap.yml)",
    )
    .option('--url <url>', "the agent's base URL, e.g. http://127.0.0.1:8700 (overrides the bootstrap's listen)")
    .option('--json', 'print the status JSON as the agent serves it')
    .addHelpText('after', '\nExit status 0 when the agent answered, 2 when it could not be reached.')
    .action(async (flags: StatusFlags) => {
      await runStatus(flags, io);
    });
}

export async function runStatus(flags: StatusFlags, io: CliIo): Promise<void> {
  try {
    const base = flags.url ?? (await urlFromBootstrap(flags.config));
    const text = await get(`${base.replace(/\/+$/, '')}/status`);
    io.stdout(flags.json === true ? `${text.trimEnd()}\n` : renderStatus(JSON.parse(text) as AgentStatus));
  } catch (err) {
    io.stderr(`appliance status: ${describeError(err)}\n`);
    io.setExitCode(exitCodeFor(err));
  }
}

async function urlFromBootstrap(file: string | undefined): Promise<string> {
  const boot = await readBootstrapFile(file);
  if (boot === undefined) {
    throw new AgentError('UsageError', 'no bootstrap file (/etc/appliance/bootstrap.yml): give --url or --config', {
      terminal: true,
    });
  }
  const listen = boot.listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${listen}`;
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(body);
        else reject(new AgentError('AgentUnavailable', `${url} answered HTTP ${res.statusCode ?? '?'}`));
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (err) => {
      reject(new AgentError('AgentUnavailable', `cannot reach the agent at ${url} (${err.message})`, { cause: err }));
    });
  });
}

/** The status as lines for people: conditions first, then revisions, errors, notices, backups. */
export function renderStatus(s: AgentStatus): string {
  const lines = [`appliance ${s.appliance}`];
  for (const c of s.conditions) {
    lines.push(
      `  ${c.type.padEnd(12)} ${String(c.status).padEnd(5)} ${c.reason}${c.message === '' ? '' : `: ${c.message}`}`,
    );
  }
  const rev = (r: string | undefined): string => (r === undefined ? '-' : r.slice(0, 12));
  lines.push(
    `applied revision    ${rev(s.lastAppliedRevision)}${s.lastAppliedAt === undefined ? '' : ` at ${s.lastAppliedAt}`}`,
  );
  lines.push(`attempted revision  ${rev(s.lastAttemptedRevision)}`);
  if (s.stalledRevision !== undefined) lines.push(`stalled on          ${rev(s.stalledRevision)}`);
  if (s.lastCycleFinishedAt !== undefined) {
    lines.push(`last cycle          ${s.lastCycleFinishedAt} (${(s.lastCycleSeconds ?? 0).toFixed(1)} s)`);
  }
  const e = s.lastError;
  if (e !== undefined) lines.push(`last error          ${e.code} at ${e.at}: ${e.message}`);
  for (const n of [...(s.notices ?? []), ...(s.configNotices ?? [])]) lines.push(`notice (${n.code}): ${n.message}`);
  const b = s.backup;
  if (b !== undefined) {
    const last = b.status.lastSuccess?.finishedAt ?? 'never';
    lines.push(`last backup         ${last}${b.next.backup === undefined ? '' : `; next ${b.next.backup}`}`);
  }
  const c = s.cycles;
  lines.push(
    `cycles              ${c.applied} applied, ${c.unchanged} unchanged, ${c.stalled} stalled, ${c.failed} failed`,
  );
  return `${lines.join('\n')}\n`;
}
