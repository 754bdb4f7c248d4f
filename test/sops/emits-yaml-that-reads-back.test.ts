import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitJson, emitYaml } from '../../agent/sops/emit.ts';
import { parseTree, type Format } from '../../agent/sops/parse.ts';
import { sameNode, type MapNode, type Node } from '../../agent/sops/tree.ts';

// Pieces that trip YAML emitters: indicators, quotes, whitespace, look-alike scalars, BOM, NEL.
const PIECES = [
  'a',
  ' ',
  '  ',
  '\n',
  '\t',
  ':',
  '#',
  '-',
  '?',
  '"',
  "'",
  '\\',
  '{',
  '}',
  '[',
  ']',
  ',',
  '&',
  '*',
  '!',
  '|',
  '>',
  '%',
  '@',
  '`',
  '0',
  '1',
  '.',
  'e',
  '_',
  'é',
  '😀',
  '\r',
  '\u0085',
  '\u2028',
  '\ufeff',
  '\u0000',
  'true',
  'null',
  '~',
  '=',
  '<<',
  '0x',
  'yes',
  '2024-01-01',
];

function randomStrings(count: number): string[] {
  let seed = 42;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n);
  };
  return Array.from({ length: count }, () =>
    Array.from({ length: next(8) }, () => PIECES[next(PIECES.length)] ?? '').join(''),
  );
}

function readBack(tree: MapNode, format: Format): MapNode | undefined {
  const text = format === 'json' ? emitJson(tree) : emitYaml([tree]);
  return parseTree(text, { file: 'fuzz', format, strict: true })[0];
}

test('emits YAML and JSON that read back as the same strings, keys and values', () => {
  for (const s of randomStrings(5000)) {
    const value: Node = {
      kind: 'seq',
      items: [
        { kind: 'str', value: s },
        { kind: 'map', items: [] },
      ],
    };
    const tree: MapNode = {
      kind: 'map',
      items: [
        { kind: 'entry', key: s, value },
        { kind: 'entry', key: `k${s}`, value: { kind: 'str', value: s } },
      ],
    };
    for (const format of ['yaml', 'json'] as const) {
      const back = readBack(tree, format);
      assert.ok(back && sameNode(back, tree), `${format}: ${JSON.stringify(s)}`);
    }
  }
});

test('emits numbers, bools and nulls in spellings that keep their types', () => {
  const scalars: Node[] = [
    { kind: 'int', value: -(2n ** 63n) },
    { kind: 'int', value: 2n ** 63n - 1n },
    { kind: 'float', value: 1 },
    { kind: 'float', value: -0 },
    { kind: 'float', value: 1e21 },
    { kind: 'float', value: 1.5e-7 },
    { kind: 'float', value: 0.1 },
    { kind: 'bool', value: false },
    { kind: 'null' },
  ];
  const tree: MapNode = {
    kind: 'map',
    items: scalars.map((value, i) => ({ kind: 'entry', key: `v${String(i)}`, value })),
  };
  for (const format of ['yaml', 'json'] as const) {
    const back = readBack(tree, format);
    assert.ok(back && sameNode(back, tree), format);
  }
});
