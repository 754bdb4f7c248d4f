import { createHash } from 'node:crypto';
import {
  emptyActual,
  findImage,
  normalizeRef,
  type ActualContainer,
  type ActualState,
} from '../../agent/core/actual.ts';
import { AgentError } from '../../agent/core/errors.ts';
import { LABELS } from '../../agent/core/names.ts';
import type { Step } from '../../agent/core/steps.ts';

/** An empty machine for `owner`. */
export function emptyMachine(owner: string): ActualState {
  return emptyActual(owner);
}

/**
 * Applies one step to an in-memory machine, purely (a new state is returned), and checks what
 * a real engine would refuse: a name already in use, a missing image, network, volume or
 * dependency, removing a network still in use, touching something not owned.
 */
export function applyToFake(actual: ActualState, step: Step): ActualState {
  const m = structuredClone(actual);
  const fail = (msg: string): never => {
    throw new AgentError('StepFailed', `${step.id}: ${msg}`);
  };
  const byId = (id: string): ActualContainer =>
    m.containers.find((c) => c.id === id) ?? fail(`no owned container ${id}`);
  const nameFree = (name: string): void => {
    if (m.containers.some((c) => c.name === name) || m.foreign.containers.includes(name)) fail(`name ${name} in use`);
  };
  switch (step.action) {
    case 'image.pull': {
      const ref = normalizeRef(step.args.ref);
      m.images.push({
        id: `sha256:${hash(ref)}`,
        tags: ref.includes('@') ? [] : [ref],
        digests: ref.includes('@') ? [ref] : [],
      });
      break;
    }
    case 'network.create': {
      const { name } = step.args;
      if (m.networks.some((n) => n.name === name) || m.foreign.networks.includes(name)) fail(`network ${name} exists`);
      m.networks.push({
        id: `net-${hash(name)}`,
        name,
        network: step.args.network,
        internal: step.args.internal,
        labels: { [LABELS.owner]: m.owner },
      });
      break;
    }
    case 'network.remove': {
      if (!m.networks.some((n) => n.id === step.args.id)) fail('no such owned network');
      const users = m.containers.filter((c) => c.networks.includes(step.args.name));
      if (users.length > 0) fail(`network in use by ${users.map((c) => c.name).join(', ')}`);
      m.networks = m.networks.filter((n) => n.id !== step.args.id);
      break;
    }
    case 'volume.create': {
      const { name, hostPath } = step.args;
      if (hostPath !== undefined) m.hostPaths.push(hostPath);
      else if (name !== undefined) {
        if (m.volumes.some((v) => v.name === name) || m.foreign.volumes.includes(name)) fail(`volume ${name} exists`);
        m.volumes.push({ name, volume: step.args.volume, labels: { [LABELS.owner]: m.owner } });
      }
      break;
    }
    case 'container.create':
    case 'container.replace': {
      const { args } = step;
      if (step.action === 'container.replace') {
        const old = byId(step.args.from.id);
        m.containers = m.containers.filter((c) => c !== old);
      }
      nameFree(args.name);
      const image = findImage(m.images, args.spec.image) ?? fail(`image ${args.spec.image} missing`);
      for (const n of args.spec.networks) if (!m.networks.some((x) => x.name === n)) fail(`network ${n} missing`);
      for (const mt of args.spec.mounts) {
        const ok = mt.type === 'bind' ? m.hostPaths.includes(mt.source) : m.volumes.some((v) => v.name === mt.source);
        if (!ok) fail(`mount source ${mt.source} missing`);
      }
      for (const d of args.dependsOn) {
        if (!m.containers.some((c) => c.service === d && c.state === 'running')) fail(`dependency ${d} not running`);
      }
      m.containers.push({
        id: `c-${hash(`${step.id}/${args.specHash}/${m.containers.length}/${JSON.stringify(m.containers.map((c) => c.id))}`)}`,
        name: args.name,
        service: args.service,
        imageRef: args.spec.image,
        imageId: image.id,
        specHash: args.specHash,
        spec: structuredClone(args.spec),
        dependsOn: [...args.dependsOn],
        networks: [...args.spec.networks],
        state: 'running',
        health: 'healthy',
        labels: { ...args.spec.labels, [LABELS.owner]: m.owner, [LABELS.service]: args.service },
      });
      break;
    }
    case 'container.start':
      byId(step.args.id).state = 'running';
      break;
    case 'container.rename': {
      const c = byId(step.args.id);
      if (c.name !== step.args.from) fail(`container is named ${c.name}`);
      nameFree(step.args.to);
      c.name = step.args.to;
      break;
    }
    case 'container.remove':
      byId(step.args.id);
      m.containers = m.containers.filter((c) => c.id !== step.args.id);
      break;
    case 'container.stop':
      byId(step.args.id).state = 'exited';
      break;
    case 'snapshot.create': {
      const storage = m.storage ?? fail('no storage to snapshot');
      const users = m.containers.filter(
        (c) =>
          c.state === 'running' && c.spec?.mounts.some((mt) => step.args.volumes.some((v) => v.hostPath === mt.source)),
      );
      if (
        users.some(
          (c) =>
            m.migration !== undefined &&
            c.service !== m.migration.service &&
            c.service !== undefined &&
            isAppService(m, c.service),
        )
      ) {
        fail('an app container still runs while its data is snapshotted');
      }
      storage.snapshots.push({
        name: `${step.args.kind}-${storage.snapshots.length}`,
        kind: step.args.kind,
        createdAt: new Date(0).toISOString(),
        volumes: step.args.volumes.map((v) => v.volume),
        readOnly: true,
      });
      break;
    }
    case 'data.recover': {
      const migration = m.migration;
      if (m.containers.some((c) => c.service !== undefined && isAppService(m, c.service)))
        fail('recovery runs while the app has containers');
      // Without the generator's role labels (golden cases), any running container stands for it.
      const db = dbService(m);
      if (!m.containers.some((c) => c.state === 'running' && (db === undefined || c.service === db)))
        fail('the database is not running');
      // The recovered data is at the backup's migration state: asked again by the migrate step.
      if (migration !== undefined) m.migration = { ...migration, dataExists: true };
      break;
    }
    case 'snapshot.restore':
    case 'app.migrate':
    case 'app.reverse-migrate': {
      const migration = m.migration ?? fail('no migration observed');
      const db = m.containers.find(
        (c) => c.spec?.image !== undefined && c.state === 'running' && c.service === dbService(m),
      );
      if (step.action !== 'snapshot.restore' && db === undefined) fail('the database is not running');
      const running = m.containers.filter(
        (c) => c.state === 'running' && c.service !== undefined && isAppService(m, c.service),
      );
      if (migration.dataExists && running.length > 0)
        fail(`app containers run during a database change: ${running.map((c) => c.name).join(', ')}`);
      if (step.action === 'snapshot.restore') m.storage?.restored.push(step.args.name);
      m.migration = { ...migration, status: 'up-to-date', dataExists: true };
      break;
    }
    case 'ingress.load':
      // The fake has no ingress: what it loaded is set by the test that needs it.
      break;
  }
  return m;
}

/** Roles come from the services' `fake.role` labels (set by the generator). */
function isAppService(m: ActualState, service: string): boolean {
  return m.containers.some((c) => c.service === service && c.labels['fake.role'] === 'app');
}

function dbService(m: ActualState): string | undefined {
  return m.containers.find((c) => c.labels['fake.role'] === 'database')?.service;
}

/** Applies every step of a plan in order. */
export function applyAll(actual: ActualState, steps: readonly Step[]): ActualState {
  return steps.reduce(applyToFake, actual);
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
