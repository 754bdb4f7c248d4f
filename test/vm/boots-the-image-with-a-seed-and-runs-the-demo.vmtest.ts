import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

// Boots the real appliance image in qemu (TCG here: ~3 min a boot), one machine with two blank
// data disks booted three times: without the seed ISO ("no configuration", no disk touched);
// with it (clone, pull, btrfs raid1, the demo through the ingress); after a reboot from inside.
// The image is built on first use and cached by a hash of its inputs (devenv/appliance-image.ts).
// Run under `flock /tmp/appliance-docker.lock`: it uses the shared registry.

/** The agent's HTTP port in the guest (status, and the service page before there is an ingress). */
const GUEST_AGENT_PORT = 8700;
/** The ingress's HTTPS port in the guest: the only way to the app. */
const GUEST_HTTPS_PORT = 443;
const BOOT_MS = 12 * 60_000;
/** The first apply pulls the demo's images through the guestfwd: ~7 min of it under TCG. */
const FIRST_APPLY_MS = 25 * 60_000;
/** Where the ingress keeps its own CA (its storage under the data path, as devenv/fleet.ts says). */
const INGRESS_ROOT = '/data/ingress/storage/pki/authorities/local/root.crt';
const started = Date.now();
/** A timeline on stderr: where a run's minutes go. */
const mark = (what: string): void => {
  process.stderr.write(`[vm +${Math.round((Date.now() - started) / 1000)} s] ${what}\n`);
};

describe('the appliance image in a VM', { timeout: 60 * 60_000 }, () => {
  let env: EnvInfo;
  let fleet: Fleet;
  let work: string;
  let head: string;
  let vm: Vm | undefined;
  let options: VmOptions;
  let ingressRoot = '';
  const sshKey = () => join(work, 'ssh_key');

  before(async () => {
    env = await ensureEnv();
    const image = await ensureImage((line) => process.stderr.write(`${line}\n`));
    work = await mkdtemp(join(tmpdir(), 'appliance-vm-'));
    fleet = await createFleet({ root: join(work, 'fleet'), env, pollSeconds: 10, dataPath: '/data' });
    // The ingress on the guest's own 80/443 (a hostfwd reaches the guest's address, not its loopback).
    // PostgreSQL's first start under TCG on a busy host can take longer than the demo's 60 s.
    head = await fleet.commit('ingress on the VM ports, health timeouts for TCG', async (files) => {
      await files.env((doc) => {
        doc.setIn(['ingress'], { http_port: 80, https_port: GUEST_HTTPS_PORT, host_ip: '0.0.0.0' });
      });
      await files.appliance((doc) => {
        doc.setIn(['policies', 'rollback', 'health_timeout_seconds'], 600);
      });
      // Python starts in seconds under TCG: the app's check gets the time (Docker runs it between gates).
      await files.app((doc) => {
        doc.setIn(['services', 'web', 'healthcheck', 'timeout_seconds'], 30);
      });
    });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', sshKey()]);
    const hostPorts = [Number(new URL(fleet.repoUrl).port), Number(env.registry.url.split(':')[1])];
    const dir = join(work, 'vm');
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
        hostPorts,
      }),
      metaData: renderMetaData({ instanceId: `vm-${Date.now()}`, hostname: fleet.name }),
      out: seedIso,
    });
    options = {
      image,
      workDir: dir,
      seedIso,
      dataDisks: [
        { name: 'data-a', sizeMb: 4096 },
        { name: 'data-b', sizeMb: 4096 },
      ],
      guestPorts: [GUEST_AGENT_PORT, GUEST_HTTPS_PORT, 22],
      hostPorts,
    };
  });
  after(async () => {
    await vm?.stop();
    await fleet.close();
    await rm(work, { recursive: true, force: true });
  });

  test('without the seed ISO the page says "no configuration"', async () => {
    mark('image ready; booting without the seed');
    vm = await startVm({ ...options, seedIso: undefined });
    const page = await waitFor(`the service page`, BOOT_MS, vm, async () => {
      const res = await httpRequest(`http://127.0.0.1:${vm?.ports[GUEST_AGENT_PORT]}/`, { timeoutMs: 5000 });
      return res.body.toString();
    });
    assert.match(page, /no configuration/);
    mark('"no configuration" served');
    await vm.stop();
    vm = undefined;
  });

  test('with the seed: clones from the host, runs the demo on btrfs raid1 through the ingress, and again after a reboot', async () => {
    // The same disks the seedless boot left (it must not have touched them), or new ones.
    vm = existsSync(join(options.workDir, 'root.qcow2')) ? await restartVm(options) : await startVm(options);
    mark(`booting with the seed (ssh -p ${vm.ports[22]} -i ${sshKey()} debian@127.0.0.1)`);
    const status = await waitForRevision(vm, head, FIRST_APPLY_MS);
    assert.equal(status.lastAppliedRevision, head);
    mark('first revision applied');
    ingressRoot = await ssh(vm, `sudo cat ${INGRESS_ROOT}`);
    assert.match(ingressRoot, /BEGIN CERTIFICATE/);
    const written = await waitFor('a row written through the ingress', BOOT_MS, vm, () =>
      app(vm as Vm, 'POST', '/rows'),
    );
    assert.ok(written.rows > 0, JSON.stringify(written));

    const df = await ssh(vm, 'sudo btrfs filesystem df /data');
    assert.match(df, /^Data, RAID1/m);
    assert.match(df, /^Metadata, RAID1/m);
    const subvolumes = await ssh(vm, 'sudo btrfs subvolume list /data');
    assert.match(subvolumes, /path demo-postgresql$/m);
    // The agent keeps its own 0600 copies; cloud-init's cached user-data (with the identity) is gone.
    assert.equal(
      (await ssh(vm, 'sudo stat -c %a /etc/appliance/age.key /etc/appliance/bootstrap.yml')).trim(),
      '600\n600',
    );
    assert.equal((await ssh(vm, 'sudo find /var/lib/cloud -name user-data.txt* -o -name obj.pkl')).trim(), '');

    // A reboot from inside the guest (qemu keeps running): everything comes back by itself.
    const bootId = await ssh(vm, 'cat /proc/sys/kernel/random/boot_id');
    await ssh(vm, 'sudo systemctl reboot').catch(() => undefined);
    mark('rebooting');
    await waitFor('the guest to reboot', BOOT_MS, vm, async () => {
      assert.notEqual(await ssh(vm as Vm, 'cat /proc/sys/kernel/random/boot_id'), bootId);
    });
    mark('rebooted (ssh answers)');
    await waitForRevision(vm, head);
    mark('revision reported after the reboot');
    const again = await waitFor('the app after the reboot', BOOT_MS, vm, () => app(vm as Vm, 'GET', '/'));
    assert.ok(again.rows >= written.rows, `rows before ${written.rows}, after the reboot ${again.rows}`);
    mark('the app answers after the reboot');
    await mkdir('test-artifacts', { recursive: true });
    await writeFile(
      'test-artifacts/vm-agent-journal.txt',
      await ssh(
        vm,
        'sudo journalctl -o short-precise -u appliance-boot -u appliance-agent -u docker -u cloud-init -u cloud-final --no-pager; systemd-analyze critical-chain --no-pager',
      ).catch(String),
    );
  });

  /** The demo app through the ingress: HTTPS to the forwarded 443, verified against the ingress's own root. */
  async function app(machine: Vm, method: string, path: string): Promise<{ version: string; rows: number }> {
    const res = await httpRequest(`https://localhost:${machine.ports[GUEST_HTTPS_PORT]}${path}`, {
      method,
      timeoutMs: 10_000,
      tls: { ca: ingressRoot, servername: 'localhost' },
    });
    if (res.status !== (method === 'POST' ? 201 : 200)) throw new Error(`${res.status}: ${res.body.toString()}`);
    return JSON.parse(res.body.toString()) as { version: string; rows: number };
  }

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

async function waitForRevision(vm: Vm, revision: string, timeoutMs = BOOT_MS): Promise<Status> {
  return waitFor(`revision ${revision.slice(0, 8)} applied`, timeoutMs, vm, async () => {
    const res = await httpRequest(`http://127.0.0.1:${vm.ports[GUEST_AGENT_PORT]}/status`, { timeoutMs: 5000 });
    const status = JSON.parse(res.body.toString()) as Status;
    if (status.lastAppliedRevision !== revision) throw new Error(`not yet: ${JSON.stringify(status.lastError ?? {})}`);
    return status;
  });
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
