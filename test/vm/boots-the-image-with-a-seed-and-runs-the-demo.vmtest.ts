import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../agent/lib/exec.ts';
import { buildSeedIso } from '../../agent/provision/seed-iso.ts';
import { renderMetaData } from '../../agent/provision/user-data.ts';
import { ensureImage } from '../../devenv/appliance-image.ts';
import { ensureEnv, httpRequest, type EnvInfo } from '../../devenv/docker-env.ts';
import { createFleet, type Fleet } from '../../devenv/fleet.ts';
import { guestUserData, restartVm, startVm, type Vm, type VmOptions } from '../../devenv/vm.ts';

// Boots the real appliance image in qemu (TCG here: ~2-3 min a boot), three boots in all:
// without a seed; with the seed and two blank data disks; and that machine again after a reboot.
// The image is built on first use and cached by a hash of its inputs (devenv/appliance-image.ts).
// Run under `flock /tmp/appliance-docker.lock`: it uses the shared registry.

/** The guest port the demo app publishes (the ingress will take 80/443 later: change it here). */
const GUEST_APP_PORT = 8080;
/** The agent's HTTP port in the guest (status, and the service page). */
const GUEST_AGENT_PORT = 8700;
const BOOT_MS = 12 * 60_000;

describe('the appliance image in a VM', { timeout: 60 * 60_000 }, () => {
  let env: EnvInfo;
  let image: string;
  let fleet: Fleet;
  let work: string;
  let head: string;
  let vm: Vm | undefined;
  let vmOptions: VmOptions;
  const sshKey = () => join(work, 'ssh_key');

  before(async () => {
    env = await ensureEnv();
    image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    work = await mkdtemp(join(tmpdir(), 'appliance-vm-'));
    fleet = await createFleet({ root: join(work, 'fleet'), env, pollSeconds: 10, dataPath: '/data' });
    // In the guest the app is reached through a hostfwd, which cannot reach the guest's loopback.
    head = await fleet.commit('demo app reachable in the VM', (files) =>
      files.app((doc) => {
        doc.setIn(['services', 'web', 'ports', 0], { container: 8080, host: GUEST_APP_PORT, host_ip: '0.0.0.0' });
      }),
    );
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', sshKey()]);
  });
  after(async () => {
    await vm?.stop();
    await fleet.close();
    await rm(work, { recursive: true, force: true });
  });

  const hostPorts = (): number[] => [Number(new URL(fleet.repoUrl).port), Number(env.registry.url.split(':')[1])];

  test('without a seed the page says "no configuration"', async () => {
    const dir = join(work, 'no-seed');
    await mkdir(dir);
    vm = await startVm({
      image,
      workDir: dir,
      dataDisks: [{ name: 'data', sizeMb: 1024 }],
      guestPorts: [GUEST_AGENT_PORT],
      hostPorts: [],
    });
    const page = await waitFor(`the service page`, BOOT_MS, vm, async () => {
      const res = await httpRequest(`http://127.0.0.1:${vm?.ports[GUEST_AGENT_PORT]}/`, { timeoutMs: 5000 });
      return res.body.toString();
    });
    assert.match(page, /no configuration/);
    await vm.stop();
    vm = undefined;
  });

  test('with the seed and two blank disks: clones from the host, runs the demo on btrfs raid1, and again after a reboot', async () => {
    const dir = join(work, 'seeded');
    await mkdir(dir);
    const seedIso = join(dir, 'seed.iso');
    await buildSeedIso({
      userData: guestUserData({
        bootstrap: {
          name: fleet.name,
          repo: { url: fleet.repoUrl, branch: 'main' },
          age_identity_file: '/etc/appliance/age.key',
          poll_interval_seconds: 10,
          listen: `0.0.0.0:${GUEST_AGENT_PORT}`,
          trust: { allow_unsigned: true },
        },
        identity: await readFile(join(fleet.root, 'keys', 'appliance.agekey'), 'utf8'),
        sshKey: (await readFile(`${sshKey()}.pub`, 'utf8')).trim(),
        hostPorts: hostPorts(),
      }),
      metaData: renderMetaData({ instanceId: `vm-${Date.now()}`, hostname: fleet.name }),
      out: seedIso,
    });
    vmOptions = {
      image,
      workDir: dir,
      seedIso,
      dataDisks: [
        { name: 'data-a', sizeMb: 4096 },
        { name: 'data-b', sizeMb: 4096 },
      ],
      guestPorts: [GUEST_AGENT_PORT, GUEST_APP_PORT, 22],
      hostPorts: hostPorts(),
    };
    vm = await startVm(vmOptions);
    const status = await waitForRevision(vm, head);
    assert.equal(status.lastAppliedRevision, head);
    const first = await appAnswer(vm);
    assert.ok(first.rows > 0, JSON.stringify(first));

    const df = await ssh(vm, 'sudo btrfs filesystem df /data');
    assert.match(df, /^Data, RAID1/m);
    const subvolumes = await ssh(vm, 'sudo btrfs subvolume list /data');
    assert.match(subvolumes, /path demo-postgresql$/m);
    // The agent keeps its own 0600 copies; cloud-init's cached user-data (with the identity) is gone.
    assert.equal(
      (await ssh(vm, 'sudo stat -c %a /etc/appliance/age.key /etc/appliance/bootstrap.yml')).trim(),
      '600\n600',
    );
    assert.equal((await ssh(vm, 'sudo find /var/lib/cloud -name user-data.txt* -o -name obj.pkl')).trim(), '');

    await ssh(vm, 'sudo systemctl reboot').catch(() => undefined);
    await vm.stop().catch(() => undefined);
    vm = await restartVm(vmOptions);
    await waitForRevision(vm, head);
    const again = await waitFor('the app after the reboot', BOOT_MS, vm, () => appAnswer(vm as Vm));
    assert.ok(again.rows > first.rows, `rows before ${first.rows}, after the reboot ${again.rows}`);
  });

  function ssh(machine: Vm, command: string): Promise<string> {
    return run(
      'ssh',
      [
        '-i',
        sshKey(),
        '-p',
        String(machine.ports[22]),
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'LogLevel=ERROR',
        '-o',
        'ConnectTimeout=20',
        'debian@127.0.0.1',
        command,
      ],
      { timeoutMs: 60_000 },
    ).then((r) => r.stdout);
  }
});

interface Status {
  lastAppliedRevision?: string;
  lastError?: { message: string };
}

async function waitForRevision(vm: Vm, revision: string): Promise<Status> {
  return waitFor(`revision ${revision.slice(0, 8)} applied`, BOOT_MS, vm, async () => {
    const res = await httpRequest(`http://127.0.0.1:${vm.ports[GUEST_AGENT_PORT]}/status`, { timeoutMs: 5000 });
    const status = JSON.parse(res.body.toString()) as Status;
    if (status.lastAppliedRevision !== revision) throw new Error(`not yet: ${JSON.stringify(status.lastError ?? {})}`);
    return status;
  });
}

async function appAnswer(vm: Vm): Promise<{ version: string; rows: number }> {
  const res = await httpRequest(`http://127.0.0.1:${vm.ports[GUEST_APP_PORT]}/`, { timeoutMs: 5000 });
  return JSON.parse(res.body.toString()) as { version: string; rows: number };
}

/** Retries `fn` until it answers; on timeout the error carries the end of the serial console. */
async function waitFor<T>(what: string, timeoutMs: number, vm: Vm, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
  const serial = (await vm.serial()).slice(-3000);
  throw new Error(`${what}: not within ${timeoutMs / 1000} s (${String(last)})\n--- serial ---\n${serial}`);
}
