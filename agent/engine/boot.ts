import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { planStorage } from '../core/boot-storage.ts';
import { describeError, isAgentError } from '../core/errors.ts';
import { formatIssue } from '../core/result.ts';
import { loadBootstrap } from '../config/bootstrap.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { pathExists, readRegularFile } from '../lib/fs.ts';
import type { Logger } from '../lib/log.ts';
import { applyStoragePlan, findDataDisks, freeBytes, isMountPoint } from '../machine/boot/disks.ts';
import { findSeedDevice, installSeedFiles, parseSeedUserData, readSeedUserData } from '../machine/boot/seed.ts';

/** What the first boot found: run the agent, or serve the service page with the reason. */
export type BootResult =
  | { mode: 'run'; storage: { mount: string; devices: string[]; profile: string } }
  | { mode: 'service'; code: string; reason: string };

export interface BootOptions {
  /** The bootstrap file the seed writes and the agent reads. */
  bootstrapFile: string;
  /** Where the data filesystem is mounted (env.yml's default `storage.paths.data`). */
  dataMount: string;
  /** The seed device; default: the disk labelled `cidata`, if any. null: look for none. */
  seedDevice?: string | null;
  /** Limit the data disk search to these devices (tests use loop devices). */
  disks?: readonly string[];
  /** Root the seed files are written under (tests); default `/`. */
  root?: string;
  /** Below this many free bytes the data disk counts as full. */
  minFreeBytes?: number;
}

export interface BootDeps {
  log: Logger;
  /** Reads the age identities in a file (sops' loader; passed in, engine/ does not import sops/). */
  loadIdentities: (file: string) => Promise<{ identities: string[] }>;
}

/** Free space the data filesystem needs before the agent starts (a dump, a migration). */
export const MIN_FREE_BYTES = 64 * 1024 * 1024;

/**
 * The appliance's start on every boot, before Docker runs a container: install the seed's files,
 * check the bootstrap and the age identity, then find, make or mount the data filesystem. Bad
 * input never throws: it is a service-mode result with one log line, and no disk is touched.
 */
export async function bootMachine(options: BootOptions, deps: BootDeps): Promise<BootResult> {
  const { log, loadIdentities } = deps;
  const service = (code: string, reason: string): BootResult => {
    log.error({ code }, `service mode: ${reason}`);
    return { mode: 'service', code, reason };
  };
  try {
    const device = options.seedDevice === undefined ? await findSeedDevice() : (options.seedDevice ?? undefined);
    if (device !== undefined) {
      const files = parseSeedUserData(await readSeedUserData(device));
      await installSeedFiles(files, options.root ?? '/');
      log.info({ device, files: files.map((f) => f.path) }, 'seed files installed (0600)');
    }
    if (!(await pathExists(options.bootstrapFile)))
      return service(
        'NoConfiguration',
        `no configuration: no seed with user-data and no ${options.bootstrapFile} (boot with the seed ISO from 'appliance config create')`,
      );
    const loaded = loadBootstrap(await readRegularFile(options.bootstrapFile), options.bootstrapFile);
    if (!loaded.ok)
      return service('BootstrapInvalid', `bootstrap.yml is invalid: ${loaded.errors.map(formatIssue).join('; ')}`);
    const { identities } = await loadIdentities(join(options.root ?? '/', loaded.value.age_identity_file));
    if (identities.length === 0) return service('AgeIdentityInvalid', 'the age identity file holds no identity');
  } catch (err) {
    const code = isAgentError(err) ? err.code : 'SeedUnreadable';
    return service(code, describeError(err));
  }
  return prepareStorage(options, service, log);
}

async function prepareStorage(
  options: BootOptions,
  service: (code: string, reason: string) => BootResult,
  log: Logger,
): Promise<BootResult> {
  try {
    let storage: { mount: string; devices: string[]; profile: string };
    if (await isMountPoint(options.dataMount)) {
      // Already mounted: by an earlier start of this boot, or by the operator on an existing host.
      storage = { mount: options.dataMount, devices: [], profile: 'existing' };
    } else {
      const plan = planStorage(await findDataDisks(options.disks));
      if (plan.action === 'none') return service('NoStorage', plan.reason);
      if (plan.action === 'create')
        log.info({ devices: plan.devices, raid1: plan.raid1 }, 'formatting blank data disks (btrfs)');
      const { profile } = await applyStoragePlan(plan, options.dataMount);
      storage = { mount: options.dataMount, devices: plan.devices, profile };
    }
    const free = await freeBytes(options.dataMount);
    const min = options.minFreeBytes ?? MIN_FREE_BYTES;
    if (free < min)
      return service(
        'StorageFull',
        `the data filesystem at ${options.dataMount} is full: ${Math.floor(free / 1048576)} MiB free, ${Math.ceil(min / 1048576)} MiB needed`,
      );
    log.info(storage, 'data storage ready');
    return { mode: 'run', storage };
  } catch (err) {
    return service(isAgentError(err) ? err.code : 'StorageFailed', `data storage: ${describeError(err)}`);
  }
}

/** Records the result for the agent (a 0600 file; it holds no secret but says why). */
export async function writeBootResult(file: string, result: BootResult): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${JSON.stringify(result)}\n`, { mode: 0o600 });
}
