import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { git } from '../../devenv/git-repo.ts';
import { exampleWorkTree, runConfig, SIGNER_FILE } from '../provision/appliance-repo.ts';

const cli = join(import.meta.dirname, '..', '..', 'bin', 'appliance.js');

test('without a remote, a signer and with several apps, config create stops with one line naming each flag', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  await git(repo, ['remote', 'remove', 'origin']);
  const args = ['create', '--repo', repo, '--name', 'n1', '--domain', 'n1.example.test', '--out', out];
  const res = await runConfig(args, {}, { discoverSigner: true });
  assert.equal(res.code, 1);
  assert.equal(
    res.err,
    'appliance config create: pass --repo-url <url> (the repository has no remote.origin.url), --app <path> ' +
      '(the repository has several apps: apps/demo/app.yml, apps/ecs/app.yml) and --trusted-signer-file <file> ' +
      '(git has no signing key (user.signingkey) to trust)\n',
  );
  await assert.rejects(stat(join(repo, 'appliances', 'n1')), 'nothing written');
});

test('on a terminal, config create asks for the URL, the app and the signer instead', async (t) => {
  const { repo, out } = await exampleWorkTree(t);
  await git(repo, ['remote', 'remove', 'origin']);
  // `script` gives the command a real terminal; answers are typed once their question shows.
  const args = [cli, 'config', 'create', '--repo', repo, '--name', 'n1', '--domain', 'n1.example.test'];
  const cmd = [process.execPath, ...args, '--out', out, '--no-commit'].map((a) => `'${a}'`).join(' ');
  const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  const answers = [
    { prompt: 'the http(s) URL the appliance clones from: ', text: 'https://git.example.test/fleet.git\r' },
    { prompt: 'number: ', text: '1\r' },
    { prompt: 'public key file whose commits apply: ', text: `${SIGNER_FILE}\r` },
  ];
  child.stdout.on('data', (c: Buffer) => {
    screen += c.toString('utf8');
    const next = answers[0];
    if (next !== undefined && screen.includes(next.prompt)) {
      answers.shift();
      child.stdin.write(next.text);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, screen);
  assert.match(screen, /several apps; which one\?\r?\n {2}1\) apps\/demo\/app.yml\r?\n {2}2\) apps\/ecs\/app.yml/);
  const appliance = await readFile(join(repo, 'appliances', 'n1', 'appliance.yml'), 'utf8');
  assert.match(appliance, /^app: apps\/demo\/app.yml$/m);
  const bootstrap = await readFile(join(out, 'bootstrap.yml'), 'utf8');
  assert.match(bootstrap, /https:\/\/git.example.test\/fleet.git/);
  assert.match(bootstrap, /signers:/);
});
