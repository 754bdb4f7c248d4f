import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from '../../agent/core/json.ts';
import type { Format } from '../../agent/sops/index.ts';

/** Fixtures made by the real sops (see test/fixtures/sops/SOURCES.md). */
export const FIXTURES = fileURLToPath(new URL('../fixtures/sops/', import.meta.url));

export interface Expected {
  format: Format;
  keyFile: string;
  sopsVersion: string | null;
  lastmodified: string;
  mac: string;
  dataKeyHex: string;
  plaintext: JsonObject;
  leaves: [aad: string, state: 'encrypted' | 'plain', type: string, macBytes: string | null][];
}

export const expected = JSON.parse(readFileSync(`${FIXTURES}expected.json`, 'utf8')) as Record<string, Expected>;

/** expected.json entries whose data key is wrapped for age (the others are PGP-only). */
export const ageFixtures = Object.entries(expected).filter(([, e]) => !e.keyFile.includes('PGP'));
export const pgpFixtures = Object.entries(expected).filter(([, e]) => e.keyFile.includes('PGP'));

export function fixture(name: string): string {
  return readFileSync(FIXTURES + name, 'utf8');
}

/** The age identities in a fixture key file. */
export function identitiesOf(keyFile: string): string[] {
  return fixture(keyFile)
    .split('\n')
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
}

export const ROPS_KEY = 'gibbz00__rops/age-mock-key.txt';
export const ROPS_EXAMPLE = 'gibbz00__rops/crates/lib/tests/sops_references/age_example.yaml';
export const SOPS_NIX = 'Mic92__sops-nix/pkgs/sops-install-secrets/test-assets/secrets.yaml';
export const SOPS_NIX_KEY = 'Mic92__sops-nix/pkgs/sops-install-secrets/test-assets/age-keys.txt';
export const PQ_KEY = 'fluxcd__kustomize-controller/internal/controller/testdata/sops/keys/age-pq.txt';
export const PGP_ONLY = 'getsops__sops/functional-tests/res/format.enc.yaml';
export const NO_MAC = 'getsops__sops/functional-tests/res/no_mac.yaml';
