import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { run } from '../agent/lib/exec.ts';
import { renderSeedUserData } from '../agent/provision/seed-user-data.ts';
import { freePort } from './fleet.ts';

/**
 * Drive options of the test VMs' disks, which are scratch files: the guest's flushes (docker
 * extracting layers, PostgreSQL) are not passed on to the host's disk, which is shared and
 * slow; the guest still sees its own writes, across reboots too.
 */
const SCRATCH = 'cache=unsafe';

/** The address in the guest that reaches the host's loopback servers (qemu guestfwd). */
export const GUEST_HOST_ADDR = '10.0.2.100';

export interface VmOptions {
  /** The appliance image (qcow2); the VM writes to an overlay in `workDir`. */
  image: string;
  workDir: string;
  /** The NoCloud seed ISO, if any. */
  seedIso?: string | undefined;
  /** Scratch data disks (qcow2 files in `workDir`, kept across `startVm` calls with the same names). */
  dataDisks?: readonly { name: string; sizeMb: number }[];
  /** Guest TCP ports reachable from the host on 127.0.0.1 (hostfwd). */
  guestPorts: readonly number[];
  /** Host loopback ports the guest reaches at GUEST_HOST_ADDR on the same port (guestfwd). */
  hostPorts: readonly number[];
}

export interface Vm {
  /** Host port on 127.0.0.1 for each guest port. */
  ports: Record<number, number>;
  serialLog: string;
  serial(): Promise<string>;
  /** Stops qemu (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** kvm when /dev/kvm is writable and the CPU has vmx/svm (a bare /dev/kvm in a sandbox is slower than tcg). */
export function qemuAccel(): string[] {
  let kvm: boolean;
  try {
    kvm = /\b(vmx|svm)\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) && accessible('/dev/kvm');
  } catch {
    kvm = false;
  }
  return kvm ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max'];
}

function accessible(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Boots the image under qemu with user-mode networking only: `restrict=on` (the guest reaches
 * nothing), hostfwd bound to 127.0.0.1, and guestfwd to the given host loopback ports only.
 */
export async function startVm(options: VmOptions): Promise<Vm> {
  const overlay = join(options.workDir, 'root.qcow2');
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', options.image, '-F', 'qcow2', overlay]);
  const drives = [`-drive`, `file=${overlay},if=virtio,format=qcow2,${SCRATCH}`];
  for (const d of options.dataDisks ?? []) {
    const file = join(options.workDir, `${d.name}.qcow2`);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', file, `${d.sizeMb}M`]);
    drives.push('-drive', `file=${file},if=virtio,format=qcow2,${SCRATCH}`);
  }
  if (options.seedIso !== undefined) drives.push('-drive', `file=${options.seedIso},media=cdrom,readonly=on`);
  return launch(options, drives);
}

/** Boots again with the same disks (the overlay and data disks as the last run left them). */
export async function restartVm(options: VmOptions): Promise<Vm> {
  const drives = ['-drive', `file=${join(options.workDir, 'root.qcow2')},if=virtio,format=qcow2,${SCRATCH}`];
  for (const d of options.dataDisks ?? [])
    drives.push('-drive', `file=${join(options.workDir, `${d.name}.qcow2`)},if=virtio,format=qcow2,${SCRATCH}`);
  if (options.seedIso !== undefined) drives.push('-drive', `file=${options.seedIso},media=cdrom,readonly=on`);
  return launch(options, drives);
}

async function launch(options: VmOptions, drives: string[]): Promise<Vm> {
  const ports: Record<number, number> = {};
  for (const g of options.guestPorts) ports[g] = await freePort();
  const net = [
    'user,id=n0,restrict=on',
    ...options.guestPorts.map((g) => `hostfwd=tcp:127.0.0.1:${ports[g]}-:${g}`),
    ...options.hostPorts.map((h) => `guestfwd=tcp:${GUEST_HOST_ADDR}:${h}-cmd:socat STDIO TCP:127.0.0.1:${h}`),
  ].join(',');
  const serialLog = join(options.workDir, `serial-${Date.now()}.log`);
  const args = [
    ...qemuAccel(),
    '-smp',
    '2',
    '-m',
    '2048',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    `file:${serialLog}`,
    '-netdev',
    net,
    '-device',
    'virtio-net-pci,netdev=n0',
    ...drives,
  ];
  const child: ChildProcess = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));
  if (child.exitCode !== null) throw new Error(`qemu exited at once: ${stderr.trim()}`);
  return {
    ports,
    serialLog,
    serial: () => readFile(serialLog, 'utf8').catch(() => ''),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The seed: the agent's files, an SSH key for the test, and loopback forwarders to the host's servers. */
export function guestUserData(o: {
  bootstrap: Record<string, unknown>;
  identity: string;
  sshKey?: string;
  hostPorts: number[];
}): string {
  // The guest reaches the host's git server and registry at GUEST_HOST_ADDR (guestfwd); a socket
  // proxy on the guest's loopback gives them the same 127.0.0.1:<port> names as on the host.
  const files = o.hostPorts.flatMap((port) => [
    {
      path: `/etc/systemd/system/hostfwd-${port}.socket`,
      permissions: '0644',
      content: `[Socket]\nListenStream=127.0.0.1:${port}\n\n[Install]\nWantedBy=sockets.target\n`,
    },
    {
      path: `/etc/systemd/system/hostfwd-${port}.service`,
      permissions: '0644',
      content: `[Service]\nExecStart=/lib/systemd/systemd-socket-proxyd ${GUEST_HOST_ADDR}:${port}\n`,
    },
  ]);
  const doc = parseDocument(
    renderSeedUserData({
      bootstrap: o.bootstrap,
      ageIdentity: o.identity,
      ...(o.sshKey === undefined ? {} : { sshAuthorizedKeys: [o.sshKey] }),
      files,
    }),
  );
  doc.set('runcmd', [
    'systemctl daemon-reload',
    `systemctl enable --now ${o.hostPorts.map((p) => `hostfwd-${p}.socket`).join(' ')}`,
  ]);
  const text = doc.toString({ lineWidth: 0 });
  return text.startsWith('#cloud-config') ? text : `#cloud-config\n${text}`;
}
