import { rmSync } from 'node:fs';
import { mkdir, writeFile, rm, symlink, mkdtemp } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { run } from '../agent/lib/exec.ts';
import type { Signer } from './signers.ts';

/** The fixed identity every test commit is made with. */
export const TEST_AUTHOR = { name: 'Appliance Test', email: 'test@appliance.invalid' } as const;

let clock = Date.UTC(2024, 0, 1) / 1000;

/**
 * Environment for the git CLI in tests: no user or system config, the fixed author, and a commit
 * date that advances one second per commit so runs are repeatable but commits stay distinct.
 */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const date = `${clock} +0000`;
  return {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: TEST_AUTHOR.name,
    GIT_AUTHOR_EMAIL: TEST_AUTHOR.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: TEST_AUTHOR.name,
    GIT_COMMITTER_EMAIL: TEST_AUTHOR.email,
    GIT_COMMITTER_DATE: date,
    ...extra,
  };
}

/** Runs the git CLI in `cwd` and returns its trimmed stdout. */
export async function git(
  cwd: string,
  args: readonly string[],
  options: { env?: Record<string, string>; input?: string | Uint8Array } = {},
): Promise<string> {
  const result = await run('git', args, {
    cwd,
    env: gitEnv(options.env),
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  return result.stdout.trim();
}

/** APPLIANCE_KEEP_TEST_DIRS=1 keeps tests' directories for a look. */
export function keepTestDirs(): boolean {
  return process.env['APPLIANCE_KEEP_TEST_DIRS'] === '1';
}

const madeDirs = new Set<string>();

/**
 * A fresh temporary directory, removed when the process exits (each test file is a process),
 * unless {@link keepTestDirs}.
 */
export async function tempDir(prefix = 'appliance-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (madeDirs.size === 0 && !keepTestDirs()) {
    process.once('exit', () => {
      for (const d of madeDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  madeDirs.add(dir);
  return dir;
}

/** Creates an empty bare repository `<root>/<name>` whose HEAD is `branch`; returns its path. */
export async function createBareRepo(root: string, name: string, branch = 'main'): Promise<string> {
  const path = join(root, name);
  await mkdir(path, { recursive: true });
  await git(path, ['init', '--quiet', '--bare', `--initial-branch=${branch}`]);
  return path;
}

/** Files to write: path → content; `null` deletes the file. */
export type FileChanges = Record<string, string | Uint8Array | null>;

/** A working clone used to author commits and push them to a bare repository. */
export class WorkRepo {
  private constructor(
    readonly dir: string,
    readonly branch: string,
  ) {}

  /** Initialises a work tree in `dir` with `origin` set to `remote` (a path or URL). */
  static async create(dir: string, remote: string, branch = 'main'): Promise<WorkRepo> {
    await mkdir(dir, { recursive: true });
    await git(dir, ['init', '--quiet', `--initial-branch=${branch}`]);
    await git(dir, ['remote', 'add', 'origin', remote]);
    return new WorkRepo(dir, branch);
  }

  /** Writes (or deletes) files in the work tree without committing. */
  async write(files: FileChanges): Promise<void> {
    for (const [path, content] of Object.entries(files)) {
      const full = join(this.dir, path);
      if (content === null) {
        await rm(full, { force: true });
        continue;
      }
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, content);
    }
  }

  /** Creates a symbolic link `path` → `target` in the work tree. */
  async symlink(path: string, target: string): Promise<void> {
    const full = join(this.dir, path);
    await mkdir(dirname(full), { recursive: true });
    await rm(full, { force: true });
    await symlink(target, full);
  }

  /** Stages everything, commits (signed when `signer` is given) and returns the new commit id. */
  async commit(message: string, options: { files?: FileChanges; signer?: Signer } = {}): Promise<string> {
    if (options.files !== undefined) await this.write(options.files);
    await git(this.dir, ['add', '--all']);
    const sign = options.signer === undefined ? ['--no-gpg-sign'] : ['-S'];
    await git(
      this.dir,
      [...(options.signer?.gitConfig ?? []), 'commit', '--quiet', '--allow-empty', ...sign, '-m', message],
      {
        env: options.signer?.env ?? {},
      },
    );
    clock += 1;
    return this.head();
  }

  /** The current commit id. */
  async head(): Promise<string> {
    return git(this.dir, ['rev-parse', 'HEAD']);
  }

  /** Pushes the branch (or `oid` to the branch) to origin; `force` allows a rewind. */
  async push(options: { force?: boolean; oid?: string } = {}): Promise<void> {
    const src = options.oid ?? 'HEAD';
    await git(this.dir, [
      'push',
      '--quiet',
      ...(options.force === true ? ['--force'] : []),
      'origin',
      `${src}:refs/heads/${this.branch}`,
    ]);
  }

  /** Moves the branch and work tree to `oid` (to author a rewind). */
  async resetHard(oid: string): Promise<void> {
    await git(this.dir, ['reset', '--quiet', '--hard', oid]);
  }

  /**
   * Writes a copy of commit `oid` whose raw text went through `mutate` (the gpgsig header is kept,
   * so the signature no longer matches) and moves the branch to it. Returns the new commit id.
   */
  async tamper(oid: string, mutate: (raw: string) => string): Promise<string> {
    const raw = await run('git', ['cat-file', 'commit', oid], { cwd: this.dir, env: gitEnv() });
    const forged = mutate(raw.stdout);
    if (forged === raw.stdout) throw new Error('tamper: mutate() changed nothing');
    const written = await git(this.dir, ['hash-object', '-t', 'commit', '-w', '--stdin'], { input: forged });
    await git(this.dir, ['update-ref', `refs/heads/${this.branch}`, written]);
    await git(this.dir, ['reset', '--quiet', '--hard', written]);
    return written;
  }
}

/** A bare repository in `<root>/<name>` plus a work clone that pushes to it by path. */
export async function createRepoPair(
  root: string,
  name = 'config.git',
  branch = 'main',
): Promise<{ bare: string; work: WorkRepo }> {
  const bare = await createBareRepo(root, name, branch);
  const work = await WorkRepo.create(join(root, `${name.replace(/\.git$/, '')}-work`), bare, branch);
  return { bare, work };
}
