import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStreaming } from '../agent/lib/exec.ts';
import { buildSeedIso } from '../agent/provision/seed-iso.ts';
import { renderMetaData } from '../agent/provision/user-data.ts';
import { ensureImage, imageCacheDir } from '../devenv/appliance-image.ts';
import { ensureEnv, httpRequest } from '../devenv/docker-env.ts';
import { createFleet } from '../devenv/fleet.ts';
import { guestUserData, startVm, type Vm } from '../devenv/vm.ts';
import { target } from './lib/targets.ts';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
/** The ingress's HTTPS port in the guest: the only way to the app. */
const HTTPS_PORT = 443;
const AGENT_PORT = 8700;

/**
 * `npm run bench -- image [--warm-only | --no-build]` (as root): build time with a cold rootfs
 * cache and with a warm one, the image's size, then boot to the demo app answering (through the
 * ingress) against a bare Debian disk from the same rootfs booting to its login prompt.
 * `--no-build` boots the cached image of the current sources (devenv/appliance-image.ts) and
 * times no build. It only pulls from the shared registry: no docker lock needed. Target: the first boot's overhead (boot to app, less the bare boot, less the first
 * apply) is at most the first apply's own time.
 */
export default async function imageBench(args: string[]): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'bench-image-'));
  try {
    const build = !args.includes('--no-build');
    if (build && !args.includes('--warm-only')) {
      for (const f of await readdir(imageCacheDir()).catch(() => [] as string[]))
        if (f.startsWith('rootfs-')) await rm(join(imageCacheDir(), f), { recursive: true, force: true });
      console.log(`cold build: ${(await timeBuild([join(work, 'cold')])).toFixed(0)} s`);
    }
    if (build) console.log(`warm build: ${(await timeBuild([join(work, 'out')])).toFixed(0)} s`);
    const qcow2 = build
      ? join(work, 'out', 'appliance.qcow2')
      : await ensureImage((l) => {
          console.log(`  ${l}`);
        });
    const raw = await stat(join(dirname(qcow2), 'appliance.raw'));
    console.log(
      `image: appliance.qcow2 ${mib((await stat(qcow2)).size)} MiB compressed, appliance.raw ${mib(raw.size)} MiB (${mib(raw.blocks * 512)} MiB allocated)`,
    );
    await timeBuild(['--base-only', join(work, 'base')]);
    const bare = await bootToLogin(join(work, 'base', 'base.qcow2'), join(work, 'vm-bare'));
    console.log(`bare Debian boot to login: ${bare.toFixed(0)} s`);
    const { toApp, apply } = await bootToApp(qcow2, work);
    console.log(`appliance boot to app answering: ${toApp.toFixed(0)} s (first apply ${apply.toFixed(0)} s)`);
    const overhead = toApp - bare - apply;
    target(
      'first-boot overhead vs first apply',
      `${overhead.toFixed(0)} s`,
      `≤ ${apply.toFixed(0)} s`,
      overhead <= apply,
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const mib = (bytes: number): string => (bytes / 1048576).toFixed(0);

async function timeBuild(args: string[]): Promise<number> {
  const t0 = performance.now();
  await runStreaming('bash', [join(projectRoot, 'packer', 'build.sh'), ...args], {
    timeoutMs: 60 * 60_000,
    onLine: (l) => {
      console.log(`  ${l}`);
    },
  });
  return (performance.now() - t0) / 1000;
}

async function bootToLogin(disk: string, dir: string): Promise<number> {
  await mkdir(dir);
  const t0 = performance.now();
  const vm = await startVm({ image: disk, workDir: dir, guestPorts: [], hostPorts: [] });
  try {
    await until(15 * 60_000, async () => /login:/.test(await vm.serial()));
    return (performance.now() - t0) / 1000;
  } finally {
    await vm.stop();
  }
}

async function bootToApp(image: string, work: string): Promise<{ toApp: number; apply: number }> {
  const env = await ensureEnv();
  const fleet = await createFleet({ root: join(work, 'fleet'), env, pollSeconds: 10, dataPath: '/data' });
  let vm: Vm | undefined;
  try {
    // The ingress on the guest's own 80/443 (a hostfwd reaches the guest's address, not its loopback).
    // PostgreSQL's first start under TCG on a busy host can take longer than the demo's 60 s.
    await fleet.commit('ingress on the VM ports, a health timeout for TCG', async (files) => {
      await files.env((doc) => {
        doc.setIn(['ingress'], { http_port: 80, https_port: HTTPS_PORT, host_ip: '0.0.0.0' });
      });
      await files.appliance((doc) => {
        doc.setIn(['policies', 'rollback', 'health_timeout_seconds'], 600);
      });
    });
    const dir = join(work, 'vm-app');
    await mkdir(dir);
    const hostPorts = [Number(new URL(fleet.repoUrl).port), Number(env.registry.url.split(':')[1])];
    const seedIso = join(dir, 'seed.iso');
    await buildSeedIso({
      userData: guestUserData({
        bootstrap: {
          name: fleet.name,
          repo: { url: fleet.repoUrl, branch: 'main' },
          age_identity_file: '/etc/appliance/age.key',
          poll_interval_seconds: 10,
          listen: `0.0.0.0:${AGENT_PORT}`,
          trust: { allow_unsigned: true },
        },
        identity: await readFile(join(fleet.root, 'keys', 'appliance.agekey'), 'utf8'),
        hostPorts,
      }),
      metaData: renderMetaData({ instanceId: `bench-${Date.now()}`, hostname: fleet.name }),
      out: seedIso,
    });
    const t0 = performance.now();
    vm = await startVm({
      image,
      workDir: dir,
      seedIso,
      dataDisks: [{ name: 'data', sizeMb: 4096 }],
      guestPorts: [AGENT_PORT, HTTPS_PORT],
      hostPorts,
    });
    const ports = vm.ports;
    await until(20 * 60_000, async () => {
      // The ingress's own CA signed the certificate (no ACME here): not verified, only timed.
      const res = await httpRequest(`https://localhost:${ports[HTTPS_PORT]}/`, { timeoutMs: 5000 });
      return res.status === 200 && /"rows"/.test(res.body.toString());
    });
    const toApp = (performance.now() - t0) / 1000;
    // The ingress routes to the app inside the apply: its cycle is in the history a little later.
    type CycleRow = { outcome: string; startedAt: string; finishedAt: string };
    let applied: CycleRow | undefined;
    await until(5 * 60_000, async () => {
      const res = await httpRequest(`http://127.0.0.1:${ports[AGENT_PORT]}/status`, { timeoutMs: 5000 });
      const status = JSON.parse(res.body.toString()) as { history: CycleRow[] };
      applied = status.history.find((h) => h.outcome === 'applied');
      return applied !== undefined;
    });
    const apply = applied === undefined ? NaN : (Date.parse(applied.finishedAt) - Date.parse(applied.startedAt)) / 1000;
    return { toApp, apply };
  } finally {
    await vm?.stop();
    await fleet.close();
  }
}

async function until(timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error(`not within ${timeoutMs / 1000} s`);
}
