import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goFormatFloat, goYamlFloat, needsQuotes, resolvePlain } from '../../agent/sops/go-yaml.ts';
import { goRfc3339 } from '../../agent/sops/mac.ts';
import { goRegExp } from '../../agent/sops/rules.ts';

test('types plain scalars as go-yaml v3 does, not as the YAML 1.2 core schema', () => {
  const cases: [string, unknown][] = [
    ['0777', { kind: 'int', value: 511n }],
    ['010', { kind: 'int', value: 8n }],
    ['08', { kind: 'float', value: 8 }],
    ['1_000', { kind: 'int', value: 1000n }],
    ['12345_54321', { kind: 'int', value: 1234554321n }],
    ['0x1F', { kind: 'int', value: 31n }],
    ['0X1F', { kind: 'int', value: 31n }],
    ['-0x1f', { kind: 'int', value: -31n }],
    ['0b101', { kind: 'int', value: 5n }],
    ['0o17', { kind: 'int', value: 15n }],
    ['+7', { kind: 'int', value: 7n }],
    ['-0', { kind: 'int', value: 0n }],
    ['9223372036854775807', { kind: 'int', value: 9223372036854775807n }],
    ['9223372036854775808', { kind: 'uint64' }],
    ['99999999999999999999', { kind: 'float', value: 1e20 }],
    ['1e3', { kind: 'float', value: 1000 }],
    ['1.0', { kind: 'float', value: 1 }],
    ['1.5e-7', { kind: 'float', value: 1.5e-7 }],
    ['.5', { kind: 'float', value: 0.5 }],
    ['1.', { kind: 'float', value: 1 }],
    ['-.inf', { kind: 'float', value: -Infinity }],
    ['true', { kind: 'bool', value: true }],
    ['True', { kind: 'bool', value: true }],
    ['FALSE', { kind: 'bool', value: false }],
    ['yes', { kind: 'str', value: 'yes' }],
    ['~', { kind: 'null' }],
    ['Null', { kind: 'null' }],
    ['2024-01-01', { kind: 'str', value: '2024-01-01' }],
    ['2024-01-01T10:00:00Z', { kind: 'str', value: '2024-01-01T10:00:00Z' }],
    ['0x', { kind: 'str', value: '0x' }],
    ['1.2.3', { kind: 'str', value: '1.2.3' }],
    ['12:30', { kind: 'str', value: '12:30' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(resolvePlain(text), want, text);
  assert.ok(Number.isNaN((resolvePlain('.nan') as { value: number }).value));
});

test('formats floats for the MAC like Go FormatFloat(f, -1)', () => {
  const cases: [number, string][] = [
    [3.14e-10, '0.000000000314'],
    [1.5e-7, '0.00000015'],
    [1e21, '1000000000000000000000'],
    [1234.56789, '1234.56789'],
    [1, '1'],
    [-0, '-0'],
    [0.1, '0.1'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [x, want] of cases) assert.equal(goFormatFloat(x), want, String(x));
});

test('writes floats that go-yaml reads back as floats', () => {
  const cases: [number, string][] = [
    [1, '1.0'],
    [-0, '-0.0'],
    [1.5e-7, '1.5e-07'],
    [1e21, '1e+21'],
    [1234568000, '1.234568e+09'],
    [123456, '123456.0'],
    [0.0001, '0.0001'],
    [NaN, '.nan'],
  ];
  for (const [x, want] of cases) {
    assert.equal(goYamlFloat(x), want);
    const back = resolvePlain(want);
    assert.equal(back.kind, 'float', want);
    assert.ok(Object.is((back as { value: number }).value, x), want);
  }
});

test('quotes exactly the strings go-yaml would not read back as strings', () => {
  for (const s of ['0777', '1_000', 'true', 'null', '', '~', '1e3', '2024-01-01', 'yes', 'off', '12:30', '.5'])
    assert.ok(needsQuotes(s), s);
  for (const s of ['hello', 'v1', '3.10.2', 'ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]', 'a b'])
    assert.ok(!needsQuotes(s), s);
});

test('re-formats lastmodified like Go time.Parse + Format(RFC3339)', () => {
  assert.equal(goRfc3339('2024-11-27T20:58:06Z'), '2024-11-27T20:58:06Z');
  assert.equal(goRfc3339('2024-11-27T20:58:06.123456Z'), '2024-11-27T20:58:06Z');
  assert.equal(goRfc3339('2024-11-27T20:58:06+00:00'), '2024-11-27T20:58:06Z');
  assert.equal(goRfc3339('2024-11-27T20:58:06+02:00'), '2024-11-27T20:58:06+02:00');
  assert.equal(goRfc3339('yesterday'), undefined);
});

test('translates Go regexes or refuses the ones JavaScript would read differently', () => {
  assert.ok(goRegExp('^(data|stringData)$').test('stringData'));
  assert.ok(goRegExp('(?i)^secret').test('SECRET_KEY'));
  assert.ok(goRegExp('\\Apass\\z').test('pass'));
  assert.ok(!goRegExp('\\Apass\\z').test('password'));
  assert.ok(goRegExp('(?P<k>key)$').test('apikey'));
  for (const bad of ['(?=x)', '(a)\\1', '[[:alpha:]]', '(?i:x)', '\\Qa\\E', '('])
    assert.throws(() => goRegExp(bad), bad);
});
