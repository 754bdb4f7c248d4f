import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCron } from '../../agent/core/cron.ts';

test('parses lists, ranges, steps and names', () => {
  const r = parseCron('*/15 6-8 1,15 jan-mar sun,Sat');
  assert.ok(r.ok);
  assert.deepEqual(r.fields.minute, [0, 15, 30, 45]);
  assert.deepEqual(r.fields.hour, [6, 7, 8]);
  assert.deepEqual(r.fields.dayOfMonth, [1, 15]);
  assert.deepEqual(r.fields.month, [1, 2, 3]);
  assert.deepEqual(r.fields.dayOfWeek, [0, 6]);
  assert.equal(r.fields.domAndDowRestricted, true);
});

test('day 7 is Sunday and a step from a single value runs to the end', () => {
  const r = parseCron('0 10/6 * * 7');
  assert.ok(r.ok);
  assert.deepEqual(r.fields.hour, [10, 16, 22]);
  assert.deepEqual(r.fields.dayOfWeek, [0]);
  assert.equal(r.fields.domAndDowRestricted, false);
});

test('bad expressions name the field and the problem', () => {
  const cases: [string, string][] = [
    ['* * * *', 'needs 5 fields, found 4'],
    ['60 * * * *', "minute: bad value '60'"],
    ['* * 0 * *', "day of month: bad value '0'"],
    ['* 5-2 * * *', "hour: range '5-2' runs backwards"],
    ['*/0 * * * *', "minute: bad step '0'"],
    ['* * * foo *', "month: bad value 'foo'"],
    ['1,,2 * * * *', "minute: bad item ''"],
  ];
  for (const [expr, message] of cases) assert.deepEqual(parseCron(expr), { ok: false, message }, expr);
});
