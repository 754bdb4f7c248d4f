import { mkdtemp, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../../agent/lib/exec.ts';
import { createLogger, type Logger } from '../../../agent/lib/log.ts';
import { SecretRegistry } from '../../../agent/lib/secrets.ts';

/** Loop devices and mounts a test made, removed by `cleanup` (run these tests under the docker lock). */
export class Scratch {
  readonly loops: string[] = [];
  readonly mounts: string[] = [];
  private constructor(readonly dir: string) {}

  static async create(): Promise<Scratch> {
    return new Scratch(await mkdtemp(join(tmpdir(), 'appliance-boot-')));
  }

  /** A loop device over a sparse file of `mb` MiB, or over an existing file. */
  async loop(name: string, mb?: number): Promise<string> {
    const file = join(this.dir, name);
    if (mb !== undefined) {
      await run('touch', [file]);
      await truncate(file, mb * 1024 * 1024);
    }
    const { stdout } = await run('losetup', ['--find', '--show', file]);
    const dev = stdout.trim();
    this.loops.push(dev);
    return dev;
  }

  async cleanup(): Promise<void> {
    for (const m of this.mounts.reverse()) await run('umount', [m], { okCodes: [0, 32] }).catch(() => undefined);
    for (const l of this.loops) await run('losetup', ['-d', l], { okCodes: [0, 1] }).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A logger whose lines the test reads. */
export function capturingLogger(): { log: Logger; lines: () => LogLine[] } {
  const chunks: string[] = [];
  const log = createLogger({
    level: 'info',
    secrets: new SecretRegistry(),
    destination: { write: (s: string) => void chunks.push(s) },
  });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogLine),
  };
}

export interface LogLine {
  level: string;
  msg: string;
  code?: string;
}
