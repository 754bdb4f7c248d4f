import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { generateTypes, typesFile } from '../../devenv/gen-types.ts';
import { SCHEMAS } from '../../agent/config/schemas.ts';

test('agent/core/config-types.gen.ts is what the schemas generate (run `npm run gen:types`)', async () => {
  const committed = await readFile(typesFile, 'utf8');
  assert.equal(committed, await generateTypes(), 'config-types.gen.ts is out of date: run `npm run gen:types`');
});

test('every property of every schema has a description', () => {
  const missing: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => {
        walk(n, `${path}/${i}`);
      });
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    for (const key of ['properties', '$defs']) {
      const props = o[key];
      if (props === null || typeof props !== 'object') continue;
      for (const [name, sub] of Object.entries(props)) {
        const s = sub as Record<string, unknown>;
        if (key === 'properties' && typeof s['description'] !== 'string') missing.push(`${path}/${key}/${name}`);
      }
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
  };
  for (const [name, schema] of Object.entries(SCHEMAS)) walk(schema, name);
  assert.deepEqual(missing, []);
});

test('objects refuse unknown keys unless they are open maps', () => {
  const open: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (o['type'] === 'object' && o['properties'] !== undefined && o['additionalProperties'] !== false) open.push(path);
    for (const [k, v] of Object.entries(o)) walk(v, `${path}/${k}`);
  };
  for (const [name, schema] of Object.entries(SCHEMAS)) walk(schema, name);
  assert.deepEqual(open, []);
});
