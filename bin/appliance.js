#!/usr/bin/env node
// Runs the compiled CLI in dist/ (`npm run build`; `npm ci` builds it through `prepare`):
// compiling TypeScript at every start cost seconds.
import { existsSync } from 'node:fs';

const main = new URL('../dist/agent/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('appliance: dist/ is missing; run `npm run build` (or `npm ci`) first\n');
  process.exit(2);
}
await import(main.href);
