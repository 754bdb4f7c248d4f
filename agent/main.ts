import { buildProgram } from './cli/program.ts';

/** Composition root: the only place that builds real clients and wires them. */
const program = buildProgram();
await program.parseAsync(process.argv);
