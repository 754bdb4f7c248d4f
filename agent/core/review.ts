import type { DesiredState } from './desired.ts';
import type { JsonValue } from './json.ts';
import type { Plan } from './plan.ts';
import type { ConfigIssue } from './result.ts';
import { canonicalJson } from './spec-hash.ts';

/** One changed value of a config file; a secret's values are never kept. */
export interface SettingChange {
  file: string;
  /** JSON pointer. */
  path: string;
  change: 'added' | 'removed' | 'changed';
  secret: boolean;
  /** Old and new value as short JSON; absent for secrets and encrypted values. */
  from?: string;
  to?: string;
}

/** A service whose image reference changes. */
export interface ImageChange {
  service: string;
  from?: string;
  to?: string;
}

export type ReviewVerdict = 'invalid' | 'refused' | 'changes' | 'no-changes' | 'removed';

/** What a change does to one appliance. */
export interface ApplianceReview {
  name: string;
  /** env.yml was decrypted (--identity): its values were validated and compared. */
  decrypted: boolean;
  validation: { errors: ConfigIssue[]; warnings: ConfigIssue[] };
  images: ImageChange[];
  settings: SettingChange[];
  /** The predicted plan, and what it was predicted against. */
  plan?: Plan;
  planBasis?: string;
  /** Why there is no predicted plan (invalid config, appliance removed). */
  planNote?: string;
  verdict: ReviewVerdict;
}

export interface ReviewReport {
  base: string;
  head: string;
  appliances: ApplianceReview[];
  /** Nothing invalid and nothing refused. */
  ok: boolean;
}

/** The verdict of one appliance's review. */
export function verdictOf(r: Omit<ApplianceReview, 'verdict'>, removed: boolean): ReviewVerdict {
  if (r.validation.errors.length > 0) return 'invalid';
  if (removed) return 'removed';
  if (r.plan !== undefined && r.plan.refused.length > 0) return 'refused';
  const planned = r.plan !== undefined && r.plan.steps.length > 0;
  return planned || r.images.length > 0 || r.settings.length > 0 ? 'changes' : 'no-changes';
}

/** Services whose image reference differs between two desired states (either may be missing). */
export function imageChanges(base: DesiredState | undefined, head: DesiredState | undefined): ImageChange[] {
  const from = new Map(base?.app.services.map((s) => [s.name, s.image]) ?? []);
  const to = new Map(head?.app.services.map((s) => [s.name, s.image]) ?? []);
  const names = [...new Set([...from.keys(), ...to.keys()])].sort();
  return names.flatMap((service) => {
    const a = from.get(service);
    const b = to.get(service);
    if (a === b) return [];
    return [{ service, ...(a === undefined ? {} : { from: a }), ...(b === undefined ? {} : { to: b }) }];
  });
}

/**
 * Leaf-by-leaf differences of two documents of `file`. Values are shown only when `showValues`
 * and the path is not in `secretPaths` of either side (an encrypted value or a secret is named
 * and never shown). Pure.
 */
export function settingChanges(
  file: string,
  from: JsonValue | undefined,
  to: JsonValue | undefined,
  options: { secretPaths?: ReadonlySet<string>; showValues: boolean; skip?: (path: string) => boolean },
): SettingChange[] {
  const a = leaves(from);
  const b = leaves(to);
  const out: SettingChange[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (options.skip?.(path) === true) continue;
    const x = a.get(path);
    const y = b.get(path);
    if (x !== undefined && y !== undefined && canonicalJson(x) === canonicalJson(y)) continue;
    const secret = options.secretPaths?.has(path) === true;
    const change = x === undefined ? 'added' : y === undefined ? 'removed' : 'changed';
    const show = options.showValues && !secret;
    out.push({
      file,
      path,
      change,
      secret,
      ...(show && x !== undefined ? { from: short(x) } : {}),
      ...(show && y !== undefined ? { to: short(y) } : {}),
    });
  }
  return out;
}

/** JSON pointer → scalar (or empty container) of every leaf. */
function leaves(value: JsonValue | undefined): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  const walk = (v: JsonValue, path: string): void => {
    if (v !== null && typeof v === 'object') {
      const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
      if (entries.length === 0) out.set(path, v);
      for (const [k, x] of entries) walk(x, `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    } else out.set(path, v);
  };
  if (value !== undefined) walk(value, '');
  return out;
}

function short(v: JsonValue): string {
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
