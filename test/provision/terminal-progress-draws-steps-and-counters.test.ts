import { test } from 'node:test';
import assert from 'node:assert/strict';
import { publicUrl, urlHasCredentials } from '../../agent/lib/public-url.ts';
import { terminalProgress } from '../../agent/provision/terminal.ts';

test('terminal progress prints each step on its own line and redraws a counter in place', () => {
  let screen = '';
  const p = terminalProgress((text) => {
    screen += text;
  });
  p.onStep('building the seed ISO');
  p.onProgress(1, 3, 'QR code 1/3');
  p.onProgress(2, 3, 'QR code 2/3');
  p.onStep('interrupting step');
  p.onProgress(3, 3, 'QR code 3/3');
  assert.equal(
    screen,
    '\r\x1b[K… building the seed ISO\n' +
      '\r\x1b[K  [1/3] QR code 1/3' +
      '\r\x1b[K  [2/3] QR code 2/3' +
      '\n\r\x1b[K… interrupting step\n' +
      '\r\x1b[K  [3/3] QR code 3/3\n',
  );
});

test('repository URLs are printed without credentials', () => {
  assert.equal(publicUrl('https://deploy:tok3n@git.example.test/fleet.git'), 'https://git.example.test/fleet.git');
  assert.equal(publicUrl('https://git.example.test/fleet.git'), 'https://git.example.test/fleet.git');
  assert.ok(urlHasCredentials('https://tok3n@git.example.test/fleet.git'));
  assert.ok(!urlHasCredentials('https://git.example.test/fleet.git'));
});
