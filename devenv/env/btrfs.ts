import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../agent/lib/exec.ts';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'btrfs.sh');

/** A btrfs filesystem on a loop device, mounted for a test (see btrfs.sh). */
export interface LoopBtrfs {
  mount: string;
  /** Unmounts it and deletes its image. */
  down(): Promise<void>;
}

/** Creates (or reuses) and mounts btrfs `name` of `size` (e.g. `2G`); installs btrfs-progs when missing. */
export async function loopBtrfs(name: string, size = '2G'): Promise<LoopBtrfs> {
  const out = await run('bash', [script, 'up', name, size], { timeoutMs: 300_000 });
  const mount = out.stdout.trim().split('\n').pop() ?? '';
  return {
    mount,
    down: async () => {
      await run('bash', [script, 'down', name], { timeoutMs: 120_000 });
    },
  };
}
