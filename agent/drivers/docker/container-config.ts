import type { DesiredService, DesiredState } from '../../core/desired.ts';
import { AgentError } from '../../core/errors.ts';
import { LABELS } from '../../core/names.ts';
import { serviceSpec } from '../../core/normalize.ts';
import { canonicalJson, hashOf } from '../../core/spec-hash.ts';
import type { ContainerArgs } from '../../core/steps.ts';
import type { ContainerCreateOptions } from './client.ts';
import type { SecretMount } from './secret-files.ts';

/**
 * The desired service a container step is for, checked against the step: the plan carries only
 * digests, so the values come from the desired state, and they must still be what was planned.
 */
export function serviceFor(desired: DesiredState, args: ContainerArgs, specKey: string): DesiredService {
  const svc = desired.app.services.find((s) => s.name === args.service);
  if (svc === undefined || hashOf(serviceSpec(desired, svc, specKey)) !== args.specHash) {
    throw new AgentError('PlanOutdated', `service ${args.service} no longer matches the plan`, {
      terminal: false,
      data: { service: args.service },
    });
  }
  return svc;
}

export interface ContainerConfigInput {
  owner: string;
  revision: string;
  /** Name to create the container with (a replace uses a temporary one). */
  name: string;
  args: ContainerArgs;
  service: DesiredService;
  secrets: readonly SecretMount[];
  /** Extra labels on everything the driver creates. */
  extraLabels: Record<string, string>;
}

/**
 * Docker's create options for a container: the values from the desired service, everything
 * else from the normalized spec, the agent's labels (with the secret-free spec) and secret
 * files as read-only bind mounts. Only the first network can be given at create (API 1.41); the
 * others are connected before start (see `extraNetworks`).
 */
export function containerConfig(input: ContainerConfigInput): ContainerCreateOptions {
  const { spec } = input.args;
  const svc = input.service;
  const env = Object.entries(svc.environment).map(([k, v]) => `${k}=${v.value}`);
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of spec.ports) {
    const key = `${p.container}/${p.protocol}`;
    exposed[key] = {};
    bindings[key] = [...(bindings[key] ?? []), { HostIp: p.hostIp, HostPort: p.host === 0 ? '' : String(p.host) }];
  }
  const first = spec.networks[0];
  const hc = spec.healthcheck;
  const seconds = (s: number): number => Math.round(s * 1e9);
  return {
    name: input.name,
    Image: spec.image,
    ...(spec.command === undefined ? {} : { Cmd: spec.command }),
    ...(spec.entrypoint === undefined ? {} : { Entrypoint: spec.entrypoint }),
    Env: env,
    ...(spec.user === undefined ? {} : { User: spec.user }),
    ...(spec.workingDir === undefined ? {} : { WorkingDir: spec.workingDir }),
    Labels: {
      ...input.extraLabels,
      ...spec.labels,
      [LABELS.owner]: input.owner,
      [LABELS.revision]: input.revision,
      [LABELS.service]: input.args.service,
      [LABELS.specHash]: input.args.specHash,
      [LABELS.spec]: canonicalJson(spec),
      [LABELS.dependsOn]: input.args.dependsOn.join(','),
    },
    ExposedPorts: exposed,
    StopTimeout: spec.stopTimeoutSeconds,
    // An http check is probed by the agent at its gates; Docker cannot probe HTTP, so between
    // gates the image's own check runs ([] = inherit it), on the definition's schedule: not on the
    // image's (the demo's: a 3 s timeout a slow machine misses, and the app reads unhealthy).
    ...(hc === undefined
      ? {}
      : {
          Healthcheck: {
            Test: hc.cmd === undefined ? [] : ['CMD', ...hc.cmd],
            Interval: seconds(hc.intervalSeconds),
            Timeout: seconds(hc.timeoutSeconds),
            Retries: hc.retries,
            StartPeriod: seconds(hc.startPeriodSeconds),
          },
        }),
    HostConfig: {
      PortBindings: bindings,
      RestartPolicy: { Name: spec.restart },
      Mounts: [
        ...spec.mounts.map((m) => ({
          Type: m.type,
          Source: m.source,
          Target: m.target,
          ReadOnly: m.readOnly,
        })),
        ...input.secrets.map((s) => ({ Type: 'bind' as const, Source: s.source, Target: s.target, ReadOnly: true })),
      ],
      ...(spec.memoryLimit === undefined ? {} : { Memory: parseMemory(spec.memoryLimit) }),
      ...(first === undefined ? { NetworkMode: 'none' } : { NetworkMode: first }),
    },
    ...(first === undefined
      ? {}
      : { NetworkingConfig: { EndpointsConfig: { [first]: { Aliases: [input.args.service] } } } }),
  };
}

/** The networks to connect after create, each with the service name as alias. */
export function extraNetworks(args: ContainerArgs): string[] {
  return args.spec.networks.slice(1);
}

/** "512m", "1g", "1048576" → bytes. */
export function parseMemory(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)b?$/i.exec(text.trim());
  if (m === null) throw new AgentError('MemoryLimitInvalid', `memory limit ${text} is not a size`, { terminal: true });
  const unit = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}
