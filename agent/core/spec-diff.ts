import type { ContainerSpec, SpecValue } from './normalize.ts';
import { canonicalJson } from './spec-hash.ts';

/**
 * Human-readable differences between the spec a container runs (`from`) and the desired one
 * (`to`): "env DATABASE_URL changed", "secret env DATABASE_PASSWORD changed", "image a → b".
 * Never shows a secret value or digest. Empty when the specs are equal.
 */
export function diffSpecs(from: ContainerSpec, to: ContainerSpec): string[] {
  const out: string[] = [];
  if (from.image !== to.image) out.push(`image ${shortRef(from.image)} → ${shortRef(to.image)}`);
  if (!same(from.entrypoint, to.entrypoint)) out.push('entrypoint changed');
  if (!same(from.command, to.command)) out.push('command changed');
  out.push(...diffEnv(from.env, to.env));
  const fromFiles = new Map(from.secretFiles.map((f) => [f.target, f]));
  const toFiles = new Map(to.secretFiles.map((f) => [f.target, f]));
  for (const [target, f] of toFiles) {
    const old = fromFiles.get(target);
    if (old === undefined) out.push(`secret file ${target} added`);
    else if (!same(old, f)) out.push(`secret file ${target} changed`);
  }
  for (const target of fromFiles.keys()) if (!toFiles.has(target)) out.push(`secret file ${target} removed`);
  if (!same(from.ports, to.ports)) out.push(`ports ${ports(from)} → ${ports(to)}`);
  if (!same(from.mounts, to.mounts)) out.push('mounts changed');
  if (!same(from.networks, to.networks)) {
    out.push(`networks ${from.networks.join(',') || '(none)'} → ${to.networks.join(',') || '(none)'}`);
  }
  if (!same(from.healthcheck, to.healthcheck)) out.push('health check changed');
  if (from.restart !== to.restart) out.push(`restart ${from.restart} → ${to.restart}`);
  if (!same(from.labels, to.labels)) out.push('labels changed');
  if (from.user !== to.user) out.push(`user ${from.user ?? '(image default)'} → ${to.user ?? '(image default)'}`);
  if (from.workingDir !== to.workingDir) out.push('working directory changed');
  if (from.memoryLimit !== to.memoryLimit) {
    out.push(`memory limit ${from.memoryLimit ?? '(none)'} → ${to.memoryLimit ?? '(none)'}`);
  }
  if (from.stopTimeoutSeconds !== to.stopTimeoutSeconds) {
    out.push(`stop timeout ${from.stopTimeoutSeconds}s → ${to.stopTimeoutSeconds}s`);
  }
  // Catch-all: a field this function does not know yet must still count as a change.
  if (out.length === 0 && canonicalJson(from) !== canonicalJson(to)) out.push('spec changed');
  return out;
}

/** `repo@sha256:abcdef012345…` for a long digest reference; other references unchanged. */
export function shortRef(ref: string): string {
  const m = /^(.*@sha256:)([0-9a-f]{12})[0-9a-f]{52}$/.exec(ref);
  return m === null ? ref : `${m[1] ?? ''}${m[2] ?? ''}…`;
}

function diffEnv(from: Record<string, SpecValue>, to: Record<string, SpecValue>): string[] {
  const out: string[] = [];
  const label = (name: string, v: SpecValue): string => ('digest' in v ? `secret env ${name}` : `env ${name}`);
  for (const key of Object.keys(to).sort()) {
    const next = to[key];
    const prev = from[key];
    if (next === undefined) continue;
    if (prev === undefined) out.push(`${label(key, next)} added`);
    else if (!same(prev, next)) out.push(`${label(key, 'digest' in prev ? prev : next)} changed`);
  }
  for (const key of Object.keys(from).sort()) {
    const prev = from[key];
    if (prev !== undefined && !(key in to)) out.push(`${label(key, prev)} removed`);
  }
  return out;
}

function ports(spec: ContainerSpec): string {
  if (spec.ports.length === 0) return '(none)';
  return spec.ports.map((p) => `${p.hostIp}:${p.host === 0 ? '*' : p.host}->${p.container}/${p.protocol}`).join(',');
}

function same(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
