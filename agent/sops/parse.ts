import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseAllDocuments,
  type Document,
  type Node as YamlNode,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';

const at = (n: unknown): number | undefined => (n as YamlNode | null | undefined)?.range?.[0];
import { sopsError } from './errors.ts';
import { resolvePlain } from './go-yaml.ts';
import type { Comment, MapNode, Node, Scalar, SeqNode } from './tree.ts';

export type Format = 'yaml' | 'json';

export interface ParseOptions {
  file: string;
  format: Format;
  /** Plaintext for encryption: refuse anchors, aliases and tags (sops would expand/drop them). */
  strict: boolean;
}

// Bounds alias expansion ("billion laughs") and nesting.
const MAX_NODES = 200_000;
const MAX_DEPTH = 200;

/**
 * Parses YAML (every document) or JSON into typed trees, typing scalars as sops does: go-yaml
 * v3 rules for YAML, `int` when it fits int64 else `float` for JSON numbers. Walks the AST so
 * key order is the file's. Every document must be a mapping with string keys.
 */
export function parseTree(text: string, opts: ParseOptions): MapNode[] {
  const docs = parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: true, prettyErrors: false });
  const lines = lineStarts(text);
  const fail = (offset: number | undefined, problem: string): never => {
    const line = offset === undefined ? undefined : lineOf(lines, offset);
    const at = line === undefined ? '' : `line ${String(line)}: `;
    throw sopsError('SopsParseError', opts.file, `${at}${problem}`, line === undefined ? {} : { line });
  };
  for (const doc of docs) {
    const error = doc.errors[0];
    // Only the code: some of the yaml package's messages quote source text, maybe a secret.
    const problem = error?.code.toLowerCase().replaceAll('_', ' ');
    if (error) fail(error.pos[0], error.code === 'DUPLICATE_KEY' ? 'duplicate key' : `invalid YAML (${problem ?? ''})`);
  }
  if (opts.format === 'json' && docs.length !== 1) fail(undefined, 'expected exactly one JSON object');
  return docs.map((doc) => new TreeBuilder(doc, opts, fail).document());
}

type Fail = (offset: number | undefined, problem: string) => never;

class TreeBuilder {
  private nodes = 0;

  constructor(
    private readonly doc: Document.Parsed,
    private readonly opts: ParseOptions,
    private readonly fail: Fail,
  ) {}

  document(): MapNode {
    const root = this.doc.contents;
    // An empty document (or a bare `~`) is an empty mapping for sops.
    const empty =
      root === null ||
      (isScalar(root) && root.type === 'PLAIN' && root.tag === undefined && resolvePlain(root.source).kind === 'null');
    if (!empty && !isMap(root)) this.fail(at(root), 'the document must be a mapping');
    const map = empty || !isMap(root) ? { kind: 'map' as const, items: [] } : this.map(root, 0);
    map.items.unshift(...this.comments(this.doc.commentBefore));
    map.items.push(...this.comments(this.doc.comment));
    return map;
  }

  private node(n: unknown, depth: number): Node {
    if (++this.nodes > MAX_NODES || depth > MAX_DEPTH) this.fail(at(n), 'document is too large or too deep');
    if (n === null || n === undefined) return { kind: 'null' };
    if (isAlias(n)) {
      if (this.opts.strict) this.fail(at(n), 'YAML aliases are not supported');
      const target = n.resolve(this.doc);
      if (!target) return this.fail(at(n), 'unknown YAML alias');
      return this.node(target, depth + 1);
    }
    if (isMap(n) || isSeq(n) || isScalar(n)) {
      if (this.opts.strict && n.anchor !== undefined) this.fail(at(n), 'YAML anchors are not supported');
      if (n.tag !== undefined) this.fail(at(n), 'YAML tags are not supported');
    }
    if (isMap(n)) return this.map(n, depth);
    if (isSeq(n)) return this.seq(n, depth);
    if (isScalar(n)) return this.scalar(n.type === 'PLAIN' ? n.source : undefined, n.value, at(n));
    return this.fail(at(n), 'unsupported YAML node');
  }

  private map(n: YAMLMap, depth: number): MapNode {
    const items: MapNode['items'] = [...this.comments(n.commentBefore)];
    for (const pair of n.items) {
      const key = pair.key;
      const value = pair.value;
      if (!isScalar(key)) return this.fail(at(key), 'keys must be strings');
      if (this.opts.strict && key.anchor !== undefined) this.fail(at(key), 'YAML anchors are not supported');
      const typedKey = this.scalar(key.type === 'PLAIN' ? key.source : undefined, key.value, at(key));
      if (key.tag !== undefined || typedKey.kind !== 'str') return this.fail(at(key), 'keys must be strings');
      items.push(...this.comments(key.commentBefore), ...this.comments(key.comment));
      if (isScalar(value)) items.push(...this.comments(value.commentBefore), ...this.comments(value.comment));
      items.push({ kind: 'entry', key: typedKey.value, value: this.node(value, depth + 1) });
    }
    items.push(...this.comments(n.comment));
    return { kind: 'map', items };
  }

  private seq(n: YAMLSeq, depth: number): SeqNode {
    const items: SeqNode['items'] = [...this.comments(n.commentBefore)];
    for (const item of n.items) {
      if (isScalar(item)) items.push(...this.comments(item.commentBefore), ...this.comments(item.comment));
      items.push(this.node(item, depth + 1));
    }
    items.push(...this.comments(n.comment));
    return { kind: 'seq', items };
  }

  /** `plain` is the source of a plain scalar; quoted and block scalars are strings. */
  private scalar(plain: string | undefined, value: unknown, offset: number | undefined): Scalar {
    if (plain === undefined) {
      if (typeof value !== 'string') return this.fail(offset, 'unsupported scalar');
      return { kind: 'str', value };
    }
    if (this.opts.format === 'json') return jsonScalar(plain) ?? this.fail(offset, 'not a JSON value');
    const typed = resolvePlain(plain);
    if (typed.kind === 'uint64') return this.fail(offset, 'integer does not fit in int64 (sops cannot store it)');
    return typed;
  }

  private comments(text: string | null | undefined): Comment[] {
    if (text === undefined || text === null) return [];
    if (this.opts.format === 'json') this.fail(undefined, 'comments are not valid JSON');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => ({ kind: 'comment', text: line }));
  }
}

/** sops ≥ 3.13.2 JSON typing: integers that fit int64 are `int`, other numbers `float`. */
function jsonScalar(source: string): Scalar | undefined {
  if (source === 'true' || source === 'false') return { kind: 'bool', value: source === 'true' };
  if (source === 'null') return { kind: 'null' };
  if (/^-?(0|[1-9][0-9]*)$/.test(source)) {
    const value = BigInt(source);
    return value >= -(2n ** 63n) && value < 2n ** 63n
      ? { kind: 'int', value }
      : { kind: 'float', value: Number(source) };
  }
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/.test(source)) return { kind: 'float', value: Number(source) };
  return undefined;
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
