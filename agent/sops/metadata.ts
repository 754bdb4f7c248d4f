import { sopsError } from './errors.ts';
import { DEFAULT_RULE, RULE_KINDS, type EncryptionRule } from './rules.ts';
import { entries, getEntry, str, type MapNode, type Node } from './tree.ts';

/** The sops version whose file layout this module writes (3.10: no empty key lists). */
export const SOPS_VERSION = '3.10.2';

/** One age recipient and the data key wrapped for it (an armored age file). */
export interface AgeEntry {
  recipient: string;
  enc: string;
}

/** What this module needs from a file's `sops:` block. */
export interface SopsMetadata {
  age: AgeEntry[];
  /** Other master-key types present (pgp, kms, …); this module cannot use them. */
  otherKeyTypes: string[];
  lastModified: string;
  mac: string | undefined;
  rule: EncryptionRule;
  macOnlyEncrypted: boolean;
  version: string | undefined;
}

const OTHER_KEY_TYPES = ['pgp', 'kms', 'gcp_kms', 'azure_kv', 'hc_vault', 'hckms', 'plugins'];
const COMMENT_RULES = ['unencrypted_comment_regex', 'encrypted_comment_regex'];

/**
 * Reads the `sops` block of the first document (sops ignores the copies in later documents).
 * Flat key lists win over `key_groups`, as in sops; several key groups mean Shamir splitting.
 */
export function readMetadata(doc: MapNode, file: string): SopsMetadata {
  const sops = getEntry(doc, 'sops');
  if (sops?.kind !== 'map') throw sopsError('SopsNotEncrypted', file, 'not a sops file (no sops metadata)');
  const lastModified = text(getEntry(sops, 'lastmodified'));
  if (lastModified === undefined) throw sopsError('SopsBadMetadata', file, 'sops metadata has no lastmodified');
  return {
    ...masterKeys(sops, file),
    lastModified,
    mac: text(getEntry(sops, 'mac')) || undefined,
    rule: readRule(sops, file),
    macOnlyEncrypted: truthy(getEntry(sops, 'mac_only_encrypted')),
    version: text(getEntry(sops, 'version')),
  };
}

function masterKeys(sops: MapNode, file: string): Pick<SopsMetadata, 'age' | 'otherKeyTypes'> {
  const flat = keysOf(sops);
  if (flat.age.length > 0 || flat.otherKeyTypes.length > 0) return flat;
  const groups = list(getEntry(sops, 'key_groups'));
  if (groups.length > 1)
    throw sopsError('SopsShamirUnsupported', file, 'the data key is split over several key groups (Shamir)', {
      keyGroups: groups.length,
    });
  const group = groups[0];
  return group?.kind === 'map' ? keysOf(group) : flat;
}

function keysOf(map: MapNode): Pick<SopsMetadata, 'age' | 'otherKeyTypes'> {
  const age: AgeEntry[] = [];
  for (const item of list(getEntry(map, 'age'))) {
    if (item.kind !== 'map') continue;
    const recipient = text(getEntry(item, 'recipient')) ?? '';
    const enc = text(getEntry(item, 'enc'));
    if (enc) age.push({ recipient, enc });
  }
  const otherKeyTypes = OTHER_KEY_TYPES.filter((k) => list(getEntry(map, k)).length > 0);
  return { age, otherKeyTypes };
}

function readRule(sops: MapNode, file: string): EncryptionRule {
  const present = entries(sops).filter(
    (e) => [...RULE_KINDS, ...COMMENT_RULES].includes(e.key) && (text(e.value) ?? '') !== '',
  );
  if (present.length > 1)
    throw sopsError('SopsBadMetadata', file, 'sops metadata has more than one encryption rule', {
      rules: present.map((e) => e.key),
    });
  const found = present[0];
  if (found === undefined) return DEFAULT_RULE;
  const kind = RULE_KINDS.find((k) => k === found.key);
  if (kind === undefined)
    throw sopsError('SopsUnsupportedRule', file, `encryption rule ${found.key} is not supported`, { rule: found.key });
  return { kind, value: text(found.value) ?? '' };
}

/** A string field; numbers and bools are accepted as text (mapstructure WeaklyTypedInput). */
function text(node: Node | undefined): string | undefined {
  switch (node?.kind) {
    case 'str':
      return node.value;
    case 'int':
    case 'bool':
    case 'float':
      return String(node.value);
    default:
      return undefined;
  }
}

function truthy(node: Node | undefined): boolean {
  if (node?.kind === 'bool') return node.value;
  return node?.kind === 'str' && ['1', 't', 'T', 'true', 'True', 'TRUE'].includes(node.value);
}

function list(node: Node | undefined): Node[] {
  return node?.kind === 'seq' ? node.items.filter((i): i is Node => i.kind !== 'comment') : [];
}

/** The `sops:` block as sops 3.10 writes it (struct order, empty lists omitted). */
export function metadataNode(m: {
  age: readonly AgeEntry[];
  lastModified: string;
  mac: string;
  rule: EncryptionRule;
  macOnlyEncrypted: boolean;
}): MapNode {
  const entry = (key: string, value: Node) => ({ kind: 'entry' as const, key, value });
  const items = [
    entry('age', {
      kind: 'seq',
      items: m.age.map((a) => ({
        kind: 'map',
        items: [entry('recipient', str(a.recipient)), entry('enc', str(a.enc))],
      })),
    }),
    entry('lastmodified', str(m.lastModified)),
    entry('mac', str(m.mac)),
    entry(m.rule.kind, str(m.rule.value)),
  ];
  if (m.macOnlyEncrypted) items.push(entry('mac_only_encrypted', { kind: 'bool', value: true }));
  items.push(entry('version', str(SOPS_VERSION)));
  return { kind: 'map', items };
}
