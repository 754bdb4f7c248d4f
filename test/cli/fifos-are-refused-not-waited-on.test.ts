import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { run } from '../../agent/lib/exec.ts';
import { openSource } from '../../agent/source/local-source.ts';
import { loadCredentials } from '../../agent/source/credentials.ts';
import { captureLogs } from '../source/fixture.ts';
import { exampleWorkTree, OPERATOR_RECIPIENT } from '../provision/appliance-repo.ts';

const projectRoot = join(import.meta.dirname, '..', '..');

/** Runs the CLI as a child; a run still going after 20 s is killed and reported as hung. */
function cli(args: string[]): Promise<{ code: number | null; out: string; hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot, 'bin', 'appliance.js'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let hung = false;
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, hung });
    });
  });
}

async function mkfifo(path: string): Promise<void> {
  await rm(path, { force: true });
  await run('mkfifo', [path]);
}

test('validate reports a FIFO in the work tree instead of waiting on it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fifo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(join(projectRoot, 'test', 'fixtures', 'repos', 'basic'), dir, { recursive: true });
  await mkfifo(join(dir, 'appliances', 'shop-prod', 'appliance.yml'));
  const res = await cli(['validate', dir]);
  assert.equal(res.hung, false, 'validate hung on the FIFO');
  assert.equal(res.code, 1, res.out);
  assert.match(res.out, /appliances\/shop-prod\/appliance\.yml.*is a FIFO, not a regular file/);
});

test('config create refuses a FIFO as input file or in the work tree', async (t) => {
  const { dir, repo, out } = await exampleWorkTree(t);
  const signers = join(dir, 'signers.fifo');
  await mkfifo(signers);
  const base = ['config', 'create', '--repo', repo, '--name', 'shop', '--domain', 'shop.example.test'];
  const args = [...base, '--app', 'demo', '-r', OPERATOR_RECIPIENT, '--out', out, '--no-commit'];
  const res = await cli([...args, '--trusted-signer-file', signers]);
  assert.equal(res.hung, false, 'config create hung on a FIFO signer file');
  assert.equal(res.code, 1);
  assert.match(res.out, /signers\.fifo is a FIFO, not a regular file/);

  await mkfifo(join(repo, '.sops.yaml'));
  const inTree = await cli([
    ...args,
    '--trusted-signer-file',
    join(projectRoot, 'test/fixtures/keys/operator-signer.pub'),
  ]);
  assert.equal(inTree.hung, false, 'config create hung on a FIFO in the work tree');
  assert.equal(inTree.code, 1);
  assert.match(inTree.out, /\.sops\.yaml is a FIFO/);
});

test('the local source and the credentials file refuse a FIFO at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fifo-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkfifo(join(dir, 'a.yml'));
  const { log } = captureLogs();
  const opened = await openSource(dir, { log });
  await assert.rejects(opened.reader.readFile('a.yml'), (err: unknown) => isAgentError(err, 'NotAFile'));
  await assert.rejects(loadCredentials(join(dir, 'a.yml'), { log }), (err: unknown) =>
    isAgentError(err, 'CredentialsInvalid'),
  );
});
