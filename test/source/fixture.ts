import { rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../agent/lib/log.ts';
import { SecretRegistry } from '../../agent/lib/secrets.ts';
import { GitSource, type GitCredentials, type GitSourceOptions } from '../../agent/source/index.ts';
import { startGitServer, type GitServer } from '../../devenv/git-server.ts';
import { createRepoPair, tempDir, type WorkRepo } from '../../devenv/git-repo.ts';

/** Log lines captured from a real pino logger. */
export interface LogCapture {
  log: Logger;
  secrets: SecretRegistry;
  text(): string;
}

/** A pino logger (debug level, scrubbing like production) writing into memory. */
export function captureLogs(): LogCapture {
  const lines: string[] = [];
  const secrets = new SecretRegistry();
  const log = createLogger({ level: 'debug', secrets, destination: { write: (s: string) => lines.push(s) } });
  return { log, secrets, text: () => lines.join('') };
}

/** A served config repo with a work clone, a state dir and captured logs. */
export interface SourceFixture {
  root: string;
  server: GitServer;
  work: WorkRepo;
  url: string;
  stateDir: string;
  logs: LogCapture;
  /**
   * A GitSource on the fixture's repo and state dir; `options` override the defaults, and
   * `auth: 'none'` leaves out the server's credentials.
   */
  source(options?: SourceOverrides): GitSource;
  close(): Promise<void>;
}

/** Options for {@link SourceFixture.source}. */
export type SourceOverrides = Partial<Omit<GitSourceOptions, 'auth'>> & { auth?: GitCredentials | 'none' };

/** Sets up the fixture; the repo gets one commit (`appliances/a/appliance.yml`) unless `empty`. */
export async function sourceFixture(
  options: { auth?: { username: string; password: string }; empty?: boolean } = {},
): Promise<SourceFixture> {
  const root = await tempDir('source-test-');
  const repos = join(root, 'repos');
  await mkdir(repos);
  const { work } = await createRepoPair(repos, 'config.git');
  if (options.empty !== true) {
    await work.commit('initial', { files: { 'appliances/a/appliance.yml': 'name: a\nversion: 1\n' } });
    await work.push();
  }
  const server = await startGitServer({ root: repos, ...(options.auth === undefined ? {} : { auth: options.auth }) });
  const url = server.url('config.git');
  const stateDir = join(root, 'state');
  const logs = captureLogs();
  return {
    root,
    server,
    work,
    url,
    stateDir,
    logs,
    source: ({ auth, ...overrides } = {}) => {
      const chosen = auth === 'none' ? undefined : (auth ?? options.auth);
      return new GitSource(
        { log: logs.log, secrets: logs.secrets },
        {
          url,
          branch: 'main',
          stateDir,
          timeoutMs: 10_000,
          ...(chosen === undefined ? {} : { auth: chosen }),
          ...overrides,
        },
      );
    },
    close: async () => {
      await server.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
