import type { CommandName, DesiredCommand, DesiredService, DesiredState } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import type { OneOffRequest, OneOffResult } from '../docker/one-off.ts';

/** Runs one-off containers (the Docker driver's `runOneOff`). */
export type OneOffRunner = (request: OneOffRequest) => Promise<OneOffResult>;

/** The answer of the app's migration_status command. */
export interface StatusAnswer {
  status: 'pending' | 'up-to-date' | 'db-newer' | 'error';
  exitCode: number;
  /** The output's lines that name migrations (at most 20, each cut to 200 characters). */
  detail: string[];
  /** The end of the output, for error messages. */
  tail: string;
}

/**
 * The app's own commands (migrate, migration status and state, reverse migrate) run in one-off
 * containers of the command's service, with any image (the desired one, or the newer one a
 * downgrade reverse-migrates with). Outputs are secret-free (see runOneOff).
 */
export class AppCommands {
  constructor(
    private readonly runner: OneOffRunner,
    private readonly specKey: string,
  ) {}

  /** True when the app defines the command. */
  has(desired: DesiredState, name: CommandName): boolean {
    return desired.app.commands[name] !== undefined;
  }

  /** Asks `image` whether its migrations are applied to the database. */
  async status(desired: DesiredState, image: string, signal?: AbortSignal): Promise<StatusAnswer> {
    const { cmd } = this.command(desired, 'migration_status');
    const res = await this.run(desired, 'migration_status', image, {}, signal);
    const detail = migrationLines(res.stdout);
    const tail = outputTail(res);
    const pending = cmd.pendingExitCode ?? 1;
    const status =
      res.exitCode === 0
        ? 'up-to-date'
        : res.exitCode === pending
          ? 'pending'
          : cmd.newerExitCode !== undefined && res.exitCode === cmd.newerExitCode
            ? 'db-newer'
            : 'error';
    return { status, exitCode: res.exitCode, detail, tail };
  }

  /** Runs migrate with `image`; fails with `MigrationFailed` (terminal) on a non-zero exit. */
  async migrate(desired: DesiredState, image: string, signal?: AbortSignal): Promise<OneOffResult> {
    const res = await this.run(desired, 'migrate', image, {}, signal);
    if (res.exitCode !== 0) {
      throw new AgentError('MigrationFailed', `migrate with ${image} exited ${res.exitCode}: ${outputTail(res)}`, {
        terminal: true,
        data: { image, exitCode: res.exitCode },
      });
    }
    return res;
  }

  /** What `image`'s migration_state prints (its migration target state); undefined without the command. */
  async state(desired: DesiredState, image: string, signal?: AbortSignal): Promise<string | undefined> {
    if (!this.has(desired, 'migration_state')) return undefined;
    const res = await this.run(desired, 'migration_state', image, {}, signal);
    if (res.exitCode !== 0 || res.truncated) {
      throw new AgentError(
        'MigrationStateFailed',
        `migration_state of ${image} ${res.truncated ? 'printed more than 64 KiB' : `exited ${res.exitCode}`}: ${outputTail(res)}`,
        { data: { image, exitCode: res.exitCode } },
      );
    }
    return res.stdout;
  }

  /** Runs reverse_migrate with the newer `image`, the older image's state on stdin. */
  async reverse(
    desired: DesiredState,
    image: string,
    targetState: string,
    signal?: AbortSignal,
  ): Promise<OneOffResult> {
    const input = targetState.endsWith('\n') ? targetState : `${targetState}\n`;
    const res = await this.run(desired, 'reverse_migrate', image, { input }, signal);
    if (res.exitCode !== 0) {
      throw new AgentError(
        'ReverseMigrationFailed',
        `reverse_migrate with ${image} exited ${res.exitCode}: ${outputTail(res)}`,
        { terminal: true, data: { image, exitCode: res.exitCode } },
      );
    }
    return res;
  }

  private command(desired: DesiredState, name: CommandName): { cmd: DesiredCommand; service: DesiredService } {
    const cmd = desired.app.commands[name];
    const service = desired.app.services.find((s) => s.name === cmd?.service);
    if (cmd === undefined || service === undefined) {
      throw new AgentError('CommandMissing', `the app defines no ${name} command`, {
        terminal: true,
        data: { command: name },
      });
    }
    return { cmd, service };
  }

  private run(
    desired: DesiredState,
    name: CommandName,
    image: string,
    extra: { input?: string },
    signal?: AbortSignal,
  ): Promise<OneOffResult> {
    const { cmd, service } = this.command(desired, name);
    return this.runner({
      desired,
      service,
      purpose: name,
      image,
      command: cmd.command,
      environment: cmd.environment,
      specKey: this.specKey,
      timeoutSeconds: cmd.timeoutSeconds,
      ...extra,
      ...(signal === undefined ? {} : { signal }),
    });
  }
}

/** Non-empty output lines, without headings like `pending:`: the names of migrations. */
export function migrationLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.endsWith(':'))
    .slice(0, 20)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
}

/** The last lines of a command's output (stderr first), for an error message. */
export function outputTail(res: { stdout: string; stderr: string }): string {
  const text = `${res.stderr.trim()}\n${res.stdout.trim()}`.trim();
  const lines = text.split('\n').slice(-8).join(' | ');
  return lines.length > 600 ? `…${lines.slice(-600)}` : lines || '(no output)';
}
