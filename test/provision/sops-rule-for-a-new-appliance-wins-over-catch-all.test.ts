import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAgentError } from '../../agent/core/errors.ts';
import { dirRepoReader } from '../../agent/config/repo-dir.ts';
import { recipientsFromSopsConfig } from '../../agent/config/sops-config.ts';
import { prepareAppliance } from '../../agent/provision/create-prepare.ts';
import { selectApp } from '../../agent/provision/select-app.ts';
import { matchRule, upsertApplianceRule } from '../../agent/provision/sops-rules.ts';
import { EXAMPLE_REPO, OPERATOR_RECIPIENT, OTHER_RECIPIENT } from './appliance-repo.ts';

const A = 'age18rhdv3gt78s85d52cmq55d7a4ljpap8laauuuyn9hcc2nkzpus4ql49a3m';
const WITH_CATCH_ALL = `# fleet keys
creation_rules:
  # prod is special
  - path_regex: ^appliances/prod/env\\.yml$
    age: ${A}
  # everything else: the ops team
  - age: >-
      ${OPERATOR_RECIPIENT},
      ${OTHER_RECIPIENT}
`;

test('a new appliance rule goes before the catch-all rule, so sops picks it, and comments stay', () => {
  const file = 'appliances/shop/env.yml';
  assert.deepEqual(matchRule(WITH_CATCH_ALL, file)?.recipients, [OPERATOR_RECIPIENT, OTHER_RECIPIENT]);
  const text = upsertApplianceRule(WITH_CATCH_ALL, 'shop', [A, OPERATOR_RECIPIENT]);
  for (const comment of ['# fleet keys', '# prod is special', '# everything else: the ops team'])
    assert.ok(text.includes(comment), comment);
  const rule = matchRule(text, file);
  assert.equal(rule?.pathRegex, '^appliances/shop/env\\.yml$');
  assert.deepEqual(rule.recipients, [A, OPERATOR_RECIPIENT]);
  assert.equal(rule.index, 1);
  assert.deepEqual(matchRule(text, 'appliances/other/env.yml')?.recipients, [OPERATOR_RECIPIENT, OTHER_RECIPIENT]);
  assert.deepEqual(matchRule(text, 'appliances/prod/env.yml')?.recipients, [A]);

  // Updating the same appliance again changes its rule in place.
  const again = upsertApplianceRule(text, 'shop', [A, OTHER_RECIPIENT]);
  assert.equal(again.split('path_regex: ^appliances/shop/').length, 2);
  assert.deepEqual(matchRule(again, file)?.recipients, [A, OTHER_RECIPIENT]);
});

test('.sops.yaml is created when missing and refused when it is not YAML', () => {
  const text = upsertApplianceRule(undefined, 'shop', [A]);
  assert.deepEqual(matchRule(text, 'appliances/shop/env.yml')?.recipients, [A]);
  assert.throws(
    () => upsertApplianceRule('creation_rules: [\n', 'shop', [A]),
    (e: unknown) => isAgentError(e, 'SopsConfigInvalid'),
  );
  assert.throws(
    () => upsertApplianceRule('creation_rules: 3\n', 'shop', [A]),
    (e: unknown) => isAgentError(e, 'SopsConfigInvalid'),
  );
});

test('without --recipient a new appliance is encrypted for the catch-all rule recipients too', async (t) => {
  const repo = await mkdtemp(join(tmpdir(), 'catch-all-'));
  t.after(() => rm(repo, { recursive: true, force: true }));
  await cp(EXAMPLE_REPO, repo, { recursive: true });
  await writeFile(join(repo, '.sops.yaml'), WITH_CATCH_ALL);
  const prepared = await prepareAppliance({
    repo,
    name: 'shop',
    domain: 'shop.example.test',
    app: await selectApp(dirRepoReader(repo), 'demo'),
    recipients: [],
    repoUrl: 'https://git.example.test/fleet.git',
    branch: 'main',
    signers: [
      { name: 'ops', ssh: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFyS+xmGuYu7HsFW0s5M2qO89K0sGqjd/qoQSJHO9Y+n ops' },
    ],
    sshAuthorizedKeys: [],
    backupRepository: '/srv/backup',
    settings: {},
    extraSecrets: new Map(),
    timezone: 'UTC',
    now: new Date('2025-01-02T03:04:05Z'),
  });
  assert.deepEqual(prepared.operatorRecipients, [OPERATOR_RECIPIENT, OTHER_RECIPIENT]);
  assert.deepEqual(prepared.warnings, []);
  const sops = prepared.repoFiles.get('.sops.yaml') ?? '';
  const reader = {
    readFile: (rel: string) => Promise.resolve(rel === '.sops.yaml' ? sops : undefined),
    listDir: () => Promise.resolve([]),
  };
  assert.deepEqual(await recipientsFromSopsConfig(reader, 'appliances/shop/env.yml'), [
    prepared.applianceRecipient,
    OPERATOR_RECIPIENT,
    OTHER_RECIPIENT,
  ]);
  assert.match(prepared.outFiles.metaData, /^instance-id: iid-shop-20250102030405$/m);
});
