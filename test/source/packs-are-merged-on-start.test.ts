import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { packIndexOids } from '../../agent/source/compact-packs.ts';
import { sourceFixture } from './fixture.ts';

async function packs(stateDir: string): Promise<string[]> {
  return (await readdir(join(stateDir, 'repo.git', 'objects', 'pack'))).filter((n) => n.endsWith('.idx'));
}

test('a restarted source merges the packs of earlier fetches into one, and every revision stays readable', async () => {
  const fx = await sourceFixture();
  try {
    const running = fx.source({ compactAtPacks: 4 });
    const revisions = [(await running.sync()).revision];
    for (let i = 2; i <= 5; i++) {
      await fx.work.commit(`v${i}`, { files: { 'appliances/a/appliance.yml': `name: a\nversion: ${i}\n` } });
      await fx.work.push();
      revisions.push((await running.sync()).revision);
    }
    // Only the first sync of a process merges: one pack per fetch meanwhile.
    assert.equal((await packs(fx.stateDir)).length, 5);

    const restarted = fx.source({ compactAtPacks: 4 });
    await fx.work.commit('v6', { files: { 'appliances/a/appliance.yml': 'name: a\nversion: 6\n' } });
    await fx.work.push();
    const result = await restarted.sync();
    assert.equal(result.changed, true, 'the new head is accepted: its descent from v5 is proven from the merged pack');
    assert.equal(await result.reader.readFile('appliances/a/appliance.yml'), 'name: a\nversion: 6\n');
    assert.equal((await packs(fx.stateDir)).length, 2, 'the merged pack and the one fetched after it');
    for (const [i, revision] of revisions.entries()) {
      const at = await restarted.at(revision);
      assert.equal(await at?.reader.readFile('appliances/a/appliance.yml'), `name: a\nversion: ${i + 1}\n`);
    }
    assert.match(fx.logs.text(), /merged the local store's packs into one/);

    // Below the threshold nothing is rewritten.
    await fx.source({ compactAtPacks: 4 }).sync();
    assert.equal((await packs(fx.stateDir)).length, 2);
  } finally {
    await fx.close();
  }
});

test('a pack index that is not version 2 or is cut short is refused by name', () => {
  assert.throws(
    () => packIndexOids(Buffer.from('not an index'), 'pack-x.idx'),
    /pack-x\.idx is not a version 2 pack index/,
  );
  const header = Buffer.alloc(8 + 256 * 4);
  header.writeUInt32BE(0xff744f63, 0);
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(3, 8 + 255 * 4);
  assert.throws(() => packIndexOids(header, 'pack-y.idx'), /pack-y\.idx is truncated/);
});
