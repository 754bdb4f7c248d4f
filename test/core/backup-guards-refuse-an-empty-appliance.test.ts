import assert from 'node:assert/strict';
import { test } from 'node:test';
import { databaseHasData, guardBackup } from '../../agent/core/backup-guards.ts';

test('the database check value: true or a positive number means data', () => {
  const cases: [string, boolean][] = [
    ['t', true],
    ['true', true],
    ['1', true],
    ['0.5', true],
    ['0', false],
    ['f', false],
    ['false', false],
    ['', false],
    ['-3', false],
    ['many', false],
  ];
  assert.deepEqual(
    cases.map(([v]) => [v, databaseHasData(v)]),
    cases,
  );
});

test('guards: an empty database first, then an empty file store; no file store is no reason', () => {
  const volumes = [{ name: 'files', hostPath: '/data/files' }];
  assert.equal(
    guardBackup({ database: { name: 'app', checkValue: '0' }, volumes, files: 3 })?.code,
    'BackupDatabaseEmpty',
  );
  assert.equal(
    guardBackup({ database: { name: 'app', checkValue: '0' }, volumes, files: 0 })?.code,
    'BackupDatabaseEmpty',
  );
  assert.equal(
    guardBackup({ database: { name: 'app', checkValue: '2' }, volumes, files: 0 })?.code,
    'BackupFilesEmpty',
  );
  assert.match(guardBackup({ volumes, files: 0 })?.message ?? '', /file store is empty \(\/data\/files\)/);
  assert.equal(guardBackup({ database: { name: 'app', checkValue: 't' }, volumes, files: 1 }), undefined);
  assert.equal(guardBackup({ database: { name: 'app', checkValue: 't' }, volumes: [], files: 0 }), undefined);
});
