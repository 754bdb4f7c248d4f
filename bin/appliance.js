#!/usr/bin/env node
// Runs the TypeScript sources directly; a packaged image runs the built dist/ instead.
import { register } from 'tsx/esm/api';

register();
await import('../agent/main.ts');
