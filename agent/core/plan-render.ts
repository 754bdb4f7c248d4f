import type { Plan, PlanNote } from './plan.ts';
import { canonicalJson } from './spec-hash.ts';
import { shortRef } from './spec-diff.ts';
import { subjectOf, type Action, type Step } from './steps.ts';

const VERB: { [A in Action]: { sign: string; verb: string } } = {
  'network.create': { sign: '+', verb: 'create' },
  'volume.create': { sign: '+', verb: 'create' },
  'image.pull': { sign: '+', verb: 'pull' },
  'container.create': { sign: '+', verb: 'create' },
  'container.start': { sign: '>', verb: 'start' },
  'container.rename': { sign: '~', verb: 'rename' },
  'container.replace': { sign: '~', verb: 'replace' },
  'container.remove': { sign: '-', verb: 'remove' },
  'network.remove': { sign: '-', verb: 'remove' },
  'container.stop': { sign: '=', verb: 'stop' },
  'snapshot.create': { sign: '+', verb: 'snapshot' },
  'snapshot.restore': { sign: '<', verb: 'restore' },
  'app.migrate': { sign: '*', verb: 'migrate' },
  'app.reverse-migrate': { sign: '*', verb: 'migrate back' },
  'data.recover': { sign: '<', verb: 'recover' },
  'ingress.load': { sign: '~', verb: 'load' },
};

const GROUPS: { title: string; actions: Action[] }[] = [
  { title: 'Networks and volumes', actions: ['network.create', 'volume.create', 'network.remove'] },
  { title: 'Images', actions: ['image.pull'] },
  {
    title: 'Database and files',
    actions: [
      'container.stop',
      'snapshot.create',
      'snapshot.restore',
      'data.recover',
      'app.migrate',
      'app.reverse-migrate',
    ],
  },
  {
    title: 'Containers',
    actions: ['container.create', 'container.replace', 'container.start', 'container.rename', 'container.remove'],
  },
  { title: 'Ingress', actions: ['ingress.load'] },
];

/**
 * The plan as text for people, like a terraform plan: one line per step with its sign
 * (`+` create, `~` replace, `-` remove, `>` start, `=` stop, `*` migrate, `<` restore), the
 * reason below it, grouped by kind and in plan order within a group; then what is left alone,
 * what is blocked and what is refused. "No changes." when there is nothing to do.
 */
export function renderPlan(plan: Plan): string {
  const lines: string[] = [];
  const head = `Plan for ${plan.owner} at revision ${plan.revision.slice(0, 12)}`;
  if (plan.steps.length === 0) {
    lines.push(`${head}: No changes.`);
  } else {
    lines.push(`${head}: ${summary(plan.steps)}.`);
    for (const group of GROUPS) {
      const steps = plan.steps.filter((s) => group.actions.includes(s.action));
      if (steps.length === 0) continue;
      lines.push('', `${group.title}:`);
      for (const s of steps) {
        const { sign, verb } = VERB[s.action];
        const risk = s.risk === 'safe' ? '' : ` (${s.risk})`;
        lines.push(`  ${sign} ${verb} ${describe(s)}${risk}`, `      ${s.reason}`);
      }
    }
  }
  section(lines, 'Left in place', plan.orphans);
  section(lines, 'Blocked', plan.conflicts);
  // Older plan files (journals, golden fixtures) have no `refused`.
  const refused = (plan.refused as Plan['refused'] | undefined) ?? [];
  if (refused.length > 0) {
    lines.push('', 'Refused:');
    for (const r of refused) lines.push(`  ! ${r.code}`, `      ${r.message}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The plan as stable JSON: keys sorted, two-space indent, a final newline. */
export function planJson(plan: Plan): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(plan)), null, 2)}\n`;
}

/** "2 to create, 1 to replace, …" for the steps of a plan. */
export function summary(steps: readonly Step[]): string {
  const counts = new Map<string, number>();
  for (const s of steps) {
    const verb = VERB[s.action].verb;
    counts.set(verb, (counts.get(verb) ?? 0) + 1);
  }
  const order = [
    'pull',
    'create',
    'stop',
    'snapshot',
    'recover',
    'migrate',
    'migrate back',
    'restore',
    'start',
    'rename',
    'replace',
    'remove',
  ];
  return order
    .filter((v) => counts.has(v))
    .map((v) => `${counts.get(v) ?? 0} to ${v}`)
    .join(', ');
}

function describe(step: Step): string {
  switch (step.action) {
    case 'image.pull':
      return `image ${shortRef(step.args.ref)}`;
    case 'container.rename':
      return `container ${step.args.from} → ${step.args.to}`;
    case 'app.migrate':
      return step.args.pending.length > 0
        ? `database with ${shortRef(step.args.image)}: ${step.args.pending.join(', ')}`
        : `database with ${shortRef(step.args.image)}`;
    case 'app.reverse-migrate':
      return `database with ${shortRef(step.args.image)} back to the state of ${shortRef(step.args.targetImage)}`;
    case 'snapshot.create':
      return `${step.args.kind} of ${step.args.volumes.map((v) => v.volume).join(', ')} (under ${step.args.root})`;
    case 'snapshot.restore':
      return `${step.args.name} over ${step.args.volumes.map((v) => v.volume).join(', ')}`;
    default:
      return subjectOf(step);
  }
}

function section(lines: string[], title: string, notes: readonly PlanNote[]): void {
  if (notes.length === 0) return;
  lines.push('', `${title}:`);
  for (const n of notes) lines.push(`  ! ${n.kind} ${n.name}`, `      ${n.reason}`);
}
