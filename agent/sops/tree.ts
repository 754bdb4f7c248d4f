import type { JsonObject, JsonValue } from '../core/json.ts';
import { sopsError } from './errors.ts';

/** A leaf typed the way sops (Go) types it; ints are bigint so nothing is rounded. */
export type Scalar =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' };

/** A scalar that sops visits (nulls are skipped: never encrypted, not in the MAC). */
export type Leaf = Exclude<Scalar, { kind: 'null' }>;

/** One YAML comment line (the text after `#`); sops encrypts these too. */
export interface Comment {
  kind: 'comment';
  text: string;
}

export interface MapEntry {
  kind: 'entry';
  key: string;
  value: Node;
}

/** A mapping in document order; comments sit between entries like sops' tree. */
export interface MapNode {
  kind: 'map';
  items: (MapEntry | Comment)[];
}

export interface SeqNode {
  kind: 'seq';
  items: (Node | Comment)[];
}

export type Node = Scalar | MapNode | SeqNode;

export const str = (value: string): Scalar => ({ kind: 'str', value });

export function isComment(item: Node | MapEntry | Comment): item is Comment {
  return item.kind === 'comment';
}

/** The entries of a map without its comments. */
export function entries(map: MapNode): MapEntry[] {
  return map.items.filter((i): i is MapEntry => i.kind === 'entry');
}

export function getEntry(map: MapNode, key: string): Node | undefined {
  return entries(map).find((e) => e.key === key)?.value;
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Converts a typed tree to plain JSON data, dropping comments. Integers outside the JS safe
 * range and non-finite floats are refused rather than silently rounded.
 */
export function toJson(node: Node, file: string, pointer = ''): JsonValue {
  switch (node.kind) {
    case 'str':
    case 'bool':
      return node.value;
    case 'null':
      return null;
    case 'int':
      if (node.value < MIN_SAFE || node.value > MAX_SAFE)
        throw sopsError('SopsUnsafeInteger', file, `${pointer || '/'}: integer is outside the safe range`, {
          path: pointer,
        });
      return Number(node.value);
    case 'float':
      if (!Number.isFinite(node.value))
        throw sopsError('SopsNonFiniteNumber', file, `${pointer || '/'}: NaN or infinity is not supported`, {
          path: pointer,
        });
      return node.value;
    case 'seq':
      return node.items
        .filter((i): i is Node => !isComment(i))
        .map((item, i) => toJson(item, file, `${pointer}/${String(i)}`));
    case 'map': {
      const out: JsonObject = {};
      for (const e of entries(node)) out[e.key] = toJson(e.value, file, `${pointer}/${escapePointer(e.key)}`);
      return out;
    }
  }
}

/** Escapes one JSON pointer segment (RFC 6901). */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Deep equality of two typed trees, comments included (float -0/NaN compared by identity). */
export function sameNode(a: Node | Comment, b: Node | Comment): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'null':
      return true;
    case 'str':
    case 'int':
    case 'bool':
    case 'float':
      return Object.is(a.value, (b as typeof a).value);
    case 'comment':
      return a.text === (b as Comment).text;
    case 'seq': {
      const items = (b as SeqNode).items;
      return a.items.length === items.length && a.items.every((x, i) => sameNode(x, items[i] as Node));
    }
    case 'map': {
      const items = (b as MapNode).items;
      return (
        a.items.length === items.length &&
        a.items.every((x, i) => {
          const y = items[i] as MapEntry | Comment;
          if (x.kind === 'entry') return y.kind === 'entry' && x.key === y.key && sameNode(x.value, y.value);
          return y.kind === 'comment' && x.text === y.text;
        })
      );
    }
  }
}
