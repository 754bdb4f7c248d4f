import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { docker, type EnvInfo } from '../../devenv/docker-env.ts';
import { makeStack, type Stack } from '../../devenv/engine-stack.ts';

// A repository only this test uses, so the image can be absent locally without disturbing others.
const REPO = '127.0.0.1:5000/appliance-test-reconcile-pull';

let s: Stack;
let ref: string;

async function forget(env: EnvInfo, image: string): Promise<void> {
  await docker(env, ['rmi', image], { okCodes: [0, 1] });
}

before(async () => {
  s = await makeStack('rc-bump');
  const tag = `${REPO}:v2`;
  await docker(s.env, ['tag', 'appliance-test/demo:v2', tag]);
  const pushed = await docker(s.env, ['push', tag]);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(pushed.stdout)?.[1];
  assert.ok(digest !== undefined, pushed.stdout);
  ref = `${REPO}@${digest}`;
  await forget(s.env, tag);
  await forget(s.env, ref);
});
after(async () => {
  await s.cleanup();
  await forget(s.env, ref);
});

test('an image bump pulls the new image by digest and replaces only web', async () => {
  assert.equal((await s.apply(s.desired())).applied, true);
  assert.equal((await s.webRoot()).version, 'v1');
  const postgres = await s.idOf('postgres');
  const images = await docker(s.env, ['images', '--digests', '--format', '{{.Repository}}@{{.Digest}}', REPO]);
  assert.ok(!images.stdout.includes(ref), 'the new image must not be on the machine before');

  const result = await s.apply(s.desired({ webImage: ref }));
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.applied, true);
  assert.deepEqual(
    result.plan.steps.map((st) => st.id),
    [`image.pull:${ref}`, 'container.replace:web'],
  );
  assert.match(result.plan.steps[0]?.reason ?? '', /by digest/);
  assert.match(result.plan.steps[1]?.reason ?? '', /^image 127\.0\.0\.1:5000\/demo@sha256:[0-9a-f]{12}… → /);
  assert.equal((await s.webRoot()).version, 'v2');
  assert.equal(await s.idOf('postgres'), postgres);
  const web = await s.docker.getContainer(`${s.owner}-web`).inspect();
  assert.equal(web.Config.Image, ref);
});
