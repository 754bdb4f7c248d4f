// Runs one apply in a child process for the crash tests, and kills itself with SIGKILL right
// after the journal's n-th transition is on disk (a power cut at a step boundary).
// Usage: node --import tsx test/engine/crash-runner.ts <input.json>; the input (0600, it holds
// the desired state with its secrets) is written by crash-harness.ts.
import { readFile } from 'node:fs/promises';
import { DockerClient } from '../../agent/drivers/docker/client.ts';
import type { DesiredState } from '../../agent/core/desired.ts';
import { DockerDriver } from '../../agent/drivers/docker/driver.ts';
import { converge } from '../../agent/engine/loop/converge.ts';
import { ApplianceMachine } from '../../agent/machine/machine.ts';
import { createLogger } from '../../agent/lib/log.ts';

interface RunnerInput {
  desired: DesiredState;
  stateDir: string;
  socketPath: string;
  labels: Record<string, string>;
  registries: { serveraddress: string; username: string; password: string }[];
  /** Kill after this many journal transitions (1-based); 0: never. */
  crashAt: number;
}

const input = JSON.parse(await readFile(process.argv[2] ?? '', 'utf8')) as RunnerInput;
const docker = new DockerDriver({
  docker: new DockerClient({ socketPath: input.socketPath }),
  stateDir: input.stateDir,
  registries: input.registries,
  labels: input.labels,
});
const log = createLogger({ level: 'warn', destination: process.stderr });
let seen = 0;
const result = await converge({
  desired: input.desired,
  driver: new ApplianceMachine({ docker, desired: input.desired, stateDir: input.stateDir, log }),
  stateDir: input.stateDir,
  log,
  journal: {
    onTransition: (key) => {
      seen++;
      process.stdout.write(`transition ${seen} ${key}\n`);
      if (seen === input.crashAt) process.kill(process.pid, 'SIGKILL');
    },
  },
});
process.stdout.write(`result ${JSON.stringify({ applied: result.applied, error: result.error?.code ?? null })}\n`);
