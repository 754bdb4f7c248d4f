/**
 * `tsx devenv/import-cycles.ts DIR...`: fails when the static imports of the .ts files under the
 * folders form a cycle (type-only imports count too: a cycle of types is a cycle of concepts).
 * Run by `npm run lint`, so CI checks it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const importRe = /^\s*(?:import|export)\b[^'";]*?\bfrom\s*'(\.{1,2}\/[^']+)'|^\s*import\s*'(\.{1,2}\/[^']+)'/gm;

/** The relative .ts imports of every .ts file under `dirs`, as absolute paths. */
export function importGraph(dirs: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        const text = readFileSync(full, 'utf8');
        const targets: string[] = [];
        for (const m of text.matchAll(importRe)) {
          const spec = m[1] ?? m[2];
          if (spec?.endsWith('.ts') === true) targets.push(path.resolve(dir, spec));
        }
        graph.set(full, targets);
      }
    }
  };
  for (const d of dirs) walk(path.resolve(d));
  return graph;
}

/** The import cycles of `graph`: each strongly connected set of two or more files (or a self-import). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative so that deep import chains cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = (graph.get(frame.node) ?? []).filter((t) => graph.has(t));
      if (frame.edge < edges.length) {
        const to = edges[frame.edge++]!;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const members: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          members.push(member);
        } while (member !== frame.node);
        const selfImport = (graph.get(frame.node) ?? []).includes(frame.node);
        if (members.length > 1 || selfImport) cycles.push(members.sort());
      }
    }
  }
  return cycles;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dirs = process.argv.slice(2);
  const cycles = importCycles(importGraph(dirs.length > 0 ? dirs : ['agent']));
  for (const c of cycles) console.error(`import cycle: ${c.map((f) => path.relative(process.cwd(), f)).join(' ↔ ')}`);
  if (cycles.length > 0) process.exit(1);
  console.log(`no import cycles in ${dirs.join(', ') || 'agent'}`);
}
