import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { startGitServer, type GitServer, type GitServerOptions } from './git-server.ts';
import { createBareRepo, git, tempDir } from './git-repo.ts';

const EXAMPLE = join(import.meta.dirname, '..', 'example-config-repo');

/**
 * example-config-repo committed once and served over smart HTTP as `fleet.git`
 * (`server.url('fleet.git')`); `work` is the clone it was pushed from, `head` its commit.
 */
export async function servedExampleRepo(
  options: Omit<GitServerOptions, 'root'> = {},
): Promise<{ server: GitServer; work: string; head: string }> {
  const serverRoot = await tempDir();
  const bare = await createBareRepo(serverRoot, 'fleet.git');
  const work = await tempDir();
  await cp(EXAMPLE, work, { recursive: true });
  await git(work, ['init', '-q', '-b', 'main']);
  await git(work, ['add', '-A']);
  await git(work, ['commit', '-q', '-m', 'example fleet']);
  const head = await git(work, ['rev-parse', 'HEAD']);
  await git(work, ['push', '-q', bare, 'main']);
  const server = await startGitServer({ ...options, root: serverRoot });
  return { server, work, head };
}
