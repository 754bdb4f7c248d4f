import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type YAMLMap } from 'yaml';
import { AgentError } from '../core/errors.ts';

const RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$|^age1pq1[02-9ac-hj-np-z]+$/;

/** Refuses anything that is not an age recipient; an identity given by mistake is not echoed. */
export function assertRecipients(recipients: readonly string[]): void {
  for (const r of recipients) {
    if (RECIPIENT.test(r)) continue;
    const shown = /SECRET/i.test(r) ? 'an age identity (a secret key!)' : `'${r}'`;
    throw new AgentError('RecipientInvalid', `${shown} is not an age recipient (age1…)`, { terminal: true });
  }
}

/** The .sops.yaml creation rule `config create` writes for an appliance's env.yml. */
export function applianceRuleRegex(name: string): string {
  return `^appliances/${name}/env\\.yml$`;
}

/** What .sops.yaml says about one file: the rule sops would pick, if any. */
export interface RuleMatch {
  /** Index in creation_rules. */
  index: number;
  /** The rule's path_regex; undefined for a catch-all rule. */
  pathRegex?: string;
  recipients: string[];
  /** The comment above the rule, if any. */
  comment?: string;
}

/** The comment `config create`/`rotate` put above an appliance's rule. */
export function ruleComment(name: string, withAppliance: boolean): string {
  return withAppliance
    ? ` appliance ${name}: its own key first, then the operators' (appliance config create)`
    : ` appliance ${name}: ${DROPPED} (operators only)`;
}

/** True when a rule's comment says the appliance's own key was taken out. */
export function applianceDropped(match: RuleMatch): boolean {
  return match.comment?.includes(DROPPED) === true;
}

const DROPPED = 'its own key is not a recipient';

/**
 * The first creation rule that applies to `file` (sops picks the first; a rule without
 * path_regex applies to every file), or undefined. `text` undefined means no .sops.yaml.
 */
export function matchRule(text: string | undefined, file: string): RuleMatch | undefined {
  if (text === undefined) return undefined;
  const rules = ruleMaps(load(text));
  for (const [index, rule] of rules.entries()) {
    const src = rule.get('path_regex');
    if (src !== undefined && typeof src !== 'string') continue;
    if (src !== undefined && !safeTest(src, file)) continue;
    return {
      index,
      ...(src === undefined ? {} : { pathRegex: src }),
      recipients: ageList(rule.get('age')),
      ...(rule.commentBefore == null ? {} : { comment: rule.commentBefore }),
    };
  }
  return undefined;
}

/**
 * Sets the creation rule for appliance `name` to `recipients` (its own first, then the
 * operators'; `withAppliance: false` when its own key was dropped, which the rule's comment
 * then records), keeping every other comment and rule: an existing rule with the appliance's
 * path_regex is updated in place; otherwise a new rule goes before the first rule that would
 * also match (so it wins) or at the end. Returns the new file text.
 */
export function upsertApplianceRule(
  text: string | undefined,
  name: string,
  recipients: readonly string[],
  options: { withAppliance?: boolean } = {},
): string {
  const comment = ruleComment(name, options.withAppliance ?? true);
  const doc = load(text ?? 'creation_rules: []\n');
  if (!doc.has('creation_rules')) doc.set('creation_rules', doc.createNode([]));
  const seq = doc.get('creation_rules');
  if (!isSeq(seq)) throw invalid('creation_rules is not a list');
  const regex = applianceRuleRegex(name);
  const ageNode = new Scalar(recipients.join(', '));
  ageNode.type = Scalar.BLOCK_FOLDED;
  const rules = ruleMaps(doc);
  const existing = rules.find((r) => r.get('path_regex') === regex);
  if (existing !== undefined) {
    existing.set('age', ageNode);
    // Only a comment this tool wrote is replaced; an operator's own words stay.
    const own = existing.commentBefore == null || existing.commentBefore.startsWith(` appliance ${name}: `);
    if (own) existing.commentBefore = comment;
    return doc.toString();
  }
  const rule = doc.createNode({ path_regex: regex }) as YAMLMap;
  rule.set('age', ageNode);
  rule.commentBefore = comment;
  const file = `appliances/${name}/env.yml`;
  const before = rules.findIndex((r) => {
    const src = r.get('path_regex');
    return src === undefined || (typeof src === 'string' && safeTest(src, file));
  });
  if (before < 0) seq.items.push(rule);
  else seq.items.splice(before, 0, rule);
  return doc.toString();
}

function load(text: string): Document {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw invalid(`not valid YAML (${doc.errors[0]?.code ?? 'error'})`);
  if (doc.contents !== null && !isMap(doc.contents)) throw invalid('not a mapping');
  return doc;
}

function ruleMaps(doc: Document): YAMLMap[] {
  const seq = doc.get('creation_rules');
  if (seq === undefined || seq === null) return [];
  if (!isSeq(seq)) throw invalid('creation_rules is not a list');
  return seq.items.flatMap((item) => (isMap(item) ? [item] : []));
}

function ageList(v: unknown): string[] {
  const raw: unknown = isScalar(v) ? v.value : isSeq(v) ? v.toJSON() : v;
  const items: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : [];
  return items.flatMap((x) => (typeof x === 'string' && x.trim() !== '' ? [x.trim()] : []));
}

function safeTest(src: string, file: string): boolean {
  try {
    return new RegExp(src).test(file);
  } catch {
    return false;
  }
}

function invalid(why: string): AgentError {
  return new AgentError('SopsConfigInvalid', `.sops.yaml: ${why}`, { terminal: true, data: { file: '.sops.yaml' } });
}
