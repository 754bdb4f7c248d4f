import type { Plan } from './plan.ts';
import { renderPlan } from './plan-render.ts';
import type { ConfigIssue } from './result.ts';
import { formatIssue } from './result.ts';
import type { ApplianceReview, ImageChange, ReviewReport, ReviewVerdict } from './review.ts';
import { canonicalJson } from './spec-hash.ts';

const VERDICT: Record<ReviewVerdict, string> = {
  invalid: '❌ invalid',
  refused: '❌ refused',
  changes: '✅ changes',
  'no-changes': '✅ no changes',
  removed: '⚠️ removed',
};

/** What a predicted plan means for people: replaced containers, migrations, snapshot, downtime. */
export interface PlanHighlights {
  replaced: string[];
  created: string[];
  removed: string[];
  migration?: string;
  snapshot: boolean;
  downtime?: string;
  refused: string[];
}

export function planHighlights(plan: Plan): PlanHighlights {
  const services = (action: string): string[] =>
    plan.steps.flatMap((s) =>
      s.action === action && 'service' in s.args && typeof s.args.service === 'string' ? [s.args.service] : [],
    );
  const removed = plan.steps.flatMap((s) => (s.action === 'container.remove' ? [s.args.name] : []));
  const migrate = plan.steps.find((s) => s.action === 'app.migrate');
  const reverse = plan.steps.find((s) => s.action === 'app.reverse-migrate');
  const restore = plan.steps.find((s) => s.action === 'snapshot.restore');
  const migration =
    reverse !== undefined
      ? 'reverse migrations (downgrade)'
      : restore !== undefined
        ? `snapshot restore (downgrade): ${restore.reason}`
        : migrate !== undefined
          ? 'database migration'
          : undefined;
  const stopped = services('container.stop');
  const out: PlanHighlights = {
    replaced: services('container.replace'),
    created: services('container.create'),
    removed,
    snapshot: plan.steps.some((s) => s.action === 'snapshot.create' && s.args.kind === 'PRE_MIGRATE'),
    refused: plan.refused.map((r) => `${r.code}: ${r.message}`),
  };
  if (migration !== undefined) out.migration = migration;
  if (stopped.length > 0) {
    out.downtime = `${stopped.join(', ')} stopped from before the snapshot until the database is migrated and the new containers are healthy`;
  } else if (out.replaced.length > 0) out.downtime = 'a restart of each replaced container';
  return out;
}

/** The review as stable JSON (keys sorted), with each plan's highlights. */
export function reviewJson(report: ReviewReport): string {
  const withHighlights = {
    ...report,
    appliances: report.appliances.map((a) => (a.plan === undefined ? a : { ...a, highlights: planHighlights(a.plan) })),
  };
  return `${JSON.stringify(JSON.parse(canonicalJson(withHighlights)), null, 2)}\n`;
}

/**
 * The review as markdown that GitHub, Gitea/Forgejo and GitLab all render: a heading, a summary
 * table, then one collapsible <details> section per appliance (blank lines around markdown
 * inside HTML blocks, plans in fenced code blocks).
 */
export function reviewMarkdown(report: ReviewReport): string {
  const lines: string[] = [
    `## Appliance review: \`${report.base.slice(0, 12)}\` → \`${report.head.slice(0, 12)}\``,
    '',
  ];
  if (report.appliances.length === 0) {
    lines.push('No appliance is touched by this change.', '');
    return lines.join('\n');
  }
  lines.push('| Appliance | Validation | Images | Settings | Predicted plan | Verdict |');
  lines.push('| --- | --- | --- | --- | --- | --- |');
  for (const a of report.appliances) {
    lines.push(
      `| ${cell(a.name)} | ${validationCell(a)} | ${cell(a.images.map(imageText).join('; ') || '—')} | ${a.settings.length} | ${cell(planCell(a))} | ${VERDICT[a.verdict]} |`,
    );
  }
  lines.push('');
  for (const a of report.appliances) lines.push(...section(a), '');
  lines.push(
    report.ok
      ? '_Nothing is refused._'
      : '**Something is invalid or refused: this change would not be applied as it is.**',
    '',
  );
  return lines.join('\n');
}

function section(a: ApplianceReview): string[] {
  const out = [`<details${a.verdict === 'invalid' || a.verdict === 'refused' ? ' open' : ''}>`];
  out.push(`<summary><b>${html(a.name)}</b>: ${html(VERDICT[a.verdict])}</summary>`, '');
  out.push('#### Validation', '');
  out.push(
    a.decrypted
      ? 'env.yml decrypted: its values were validated too.'
      : 'env.yml not decrypted (no key): its structure and keys were validated.',
    '',
  );
  if (a.validation.errors.length === 0 && a.validation.warnings.length === 0) out.push('No problems.', '');
  out.push(...issues('error', a.validation.errors), ...issues('warning', a.validation.warnings));
  out.push('#### Desired state', '');
  if (a.images.length === 0 && a.settings.length === 0) out.push('No change to images or settings.', '');
  if (a.images.length > 0) {
    out.push('| Service | Image before | Image after |', '| --- | --- | --- |');
    for (const i of a.images) out.push(`| ${cell(i.service)} | ${ref(i.from)} | ${ref(i.to)} |`);
    out.push('');
  }
  if (a.settings.length > 0) {
    out.push('| File | Setting | Change |', '| --- | --- | --- |');
    for (const s of a.settings) {
      const what = s.secret
        ? `secret ${s.change} (value not shown)`
        : s.from !== undefined || s.to !== undefined
          ? `${s.change}: ${code(s.from ?? '—')} → ${code(s.to ?? '—')}`
          : `${s.change} (encrypted)`;
      out.push(`| ${cell(s.file)} | ${code(s.path)} | ${what} |`);
    }
    out.push('');
  }
  out.push('#### Predicted plan', '');
  if (a.plan === undefined) {
    out.push(a.planNote ?? 'No plan.', '');
  } else {
    out.push(`Predicted against ${a.planBasis ?? 'the last reported state'}.`, '');
    const h = planHighlights(a.plan);
    const facts: string[] = [];
    if (h.replaced.length > 0) facts.push(`Containers replaced: ${h.replaced.join(', ')}`);
    if (h.created.length > 0) facts.push(`Containers created: ${h.created.join(', ')}`);
    if (h.removed.length > 0) facts.push(`Containers removed: ${h.removed.join(', ')}`);
    if (h.migration !== undefined)
      facts.push(`Migration: ${h.migration}${h.snapshot ? ', PRE_MIGRATE snapshot first' : ''}`);
    if (h.downtime !== undefined) facts.push(`Downtime: ${h.downtime}`);
    for (const r of h.refused) facts.push(`**Refused**: ${r}`);
    out.push(...facts.map((f) => `- ${html(f).replace(/\*\*Refused\*\*/, '**Refused**')}`));
    if (facts.length > 0) out.push('');
    out.push('```text', renderPlan(a.plan).trimEnd(), '```', '');
  }
  out.push('</details>');
  return out;
}

function issues(kind: string, list: readonly ConfigIssue[]): string[] {
  if (list.length === 0) return [];
  return [...list.map((i) => `- ${kind}: ${code(formatIssue(i))}`), ''];
}

function validationCell(a: ApplianceReview): string {
  const e = a.validation.errors.length;
  const w = a.validation.warnings.length;
  if (e > 0) return `❌ ${e} error${e === 1 ? '' : 's'}`;
  return w > 0 ? `⚠️ ${w} warning${w === 1 ? '' : 's'}` : '✅ ok';
}

function planCell(a: ApplianceReview): string {
  if (a.plan === undefined) return 'none';
  if (a.plan.steps.length === 0 && a.plan.refused.length === 0) return 'no changes';
  const h = planHighlights(a.plan);
  const parts: string[] = [];
  if (h.refused.length > 0) parts.push(`${h.refused.length} refused`);
  if (h.replaced.length > 0) parts.push(`${h.replaced.length} replaced`);
  if (h.created.length > 0) parts.push(`${h.created.length} created`);
  if (h.removed.length > 0) parts.push(`${h.removed.length} removed`);
  if (h.migration !== undefined) parts.push(h.snapshot ? 'migration, PRE_MIGRATE snapshot' : 'migration');
  if (h.downtime !== undefined && h.migration !== undefined) parts.push('downtime');
  return parts.join(', ') || `${a.plan.steps.length} steps`;
}

function imageText(i: ImageChange): string {
  return `${i.service}: ${tail(i.from)} → ${tail(i.to)}`;
}

/** The tag or short digest of a reference, for the summary table. */
function tail(r: string | undefined): string {
  if (r === undefined) return '(none)';
  const at = r.indexOf('@sha256:');
  if (at >= 0) return `@${r.slice(at + 1, at + 20)}`;
  const colon = r.lastIndexOf(':');
  return colon > r.lastIndexOf('/') ? r.slice(colon + 1) : r;
}

/** A reference with its digest, or a note that it has none (a tag can move). */
function ref(r: string | undefined): string {
  if (r === undefined) return '(none)';
  return r.includes('@sha256:') ? code(r) : `${code(r)} (tag, no digest)`;
}

function code(text: string): string {
  return `<code>${html(text).replace(/\|/g, '&#124;')}</code>`;
}

function cell(text: string): string {
  return html(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
