import { Document, Pair, Scalar as YamlScalar, YAMLMap, YAMLSeq } from 'yaml';
import { goYamlFloat, needsQuotes } from './go-yaml.ts';
import type { MapNode, Node } from './tree.ts';

/**
 * Writes typed trees as YAML the way sops (go-yaml, indent 4) does, in a spelling go-yaml
 * reads back as the same typed values: strings quoted where go-yaml would type them otherwise,
 * ints in decimal, floats with a `.`/exponent, multi-line strings as literal blocks, no line
 * folding. Comments are written before the entry that follows them.
 */
export function emitYaml(docs: readonly MapNode[]): string {
  return docs
    .map((tree) => {
      // failsafe: the yaml package must not second-guess spellings; quoting is decided here.
      const doc = new Document(null, { schema: 'failsafe' });
      doc.contents = toYamlMap(tree);
      return doc.toString({ indent: 4, lineWidth: 0, indentSeq: true });
    })
    .join('---\n');
}

function toYaml(node: Node): YamlScalar | YAMLMap | YAMLSeq {
  switch (node.kind) {
    case 'map':
      return toYamlMap(node);
    case 'seq': {
      const seq = new YAMLSeq();
      let pending: string[] = [];
      for (const item of node.items) {
        if (item.kind === 'comment') pending.push(item.text);
        else {
          const y = toYaml(item);
          attachBefore(y, pending);
          seq.items.push(y);
          pending = [];
        }
      }
      attachAfter(seq, pending);
      return seq;
    }
    case 'str':
      return scalar(node.value);
    case 'int':
      return plain(node.value.toString());
    case 'float':
      return plain(goYamlFloat(node.value));
    case 'bool':
      return plain(node.value ? 'true' : 'false');
    case 'null':
      return plain('null');
  }
}

function toYamlMap(node: MapNode): YAMLMap {
  const map = new YAMLMap();
  let pending: string[] = [];
  for (const item of node.items) {
    if (item.kind === 'comment') pending.push(item.text);
    else {
      const key = scalar(item.key);
      attachBefore(key, pending);
      map.items.push(new Pair(key, toYaml(item.value)));
      pending = [];
    }
  }
  attachAfter(map, pending);
  return map;
}

function attachBefore(node: YamlScalar | YAMLMap | YAMLSeq, comments: readonly string[]): void {
  if (comments.length > 0) node.commentBefore = comments.join('\n');
}

function attachAfter(node: YAMLMap | YAMLSeq, comments: readonly string[]): void {
  if (comments.length > 0) node.comment = comments.join('\n');
}

// eslint-disable-next-line no-control-regex -- these are exactly the characters to escape
const SPECIAL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufeff\u2028\u2029\ud800-\udfff]/u;

function scalar(value: string): YamlScalar {
  const s = new YamlScalar(value);
  // Leading indentation would need a block indentation indicator, which the yaml package
  // gets wrong for indent 4; special characters (BOM, NEL, CR, controls) must be escaped.
  if (needsQuotes(value) || /^\n*[ \t]/.test(value) || SPECIAL_CHARS.test(value)) s.type = 'QUOTE_DOUBLE';
  return s;
}

function plain(text: string): YamlScalar {
  const s = new YamlScalar(text);
  s.type = 'PLAIN';
  return s;
}

/** Writes a typed tree as JSON (tab-indented like sops); comments cannot be kept. */
export function emitJson(tree: MapNode): string {
  return `${json(tree, '')}\n`;
}

function json(node: Node, indent: string): string {
  const inner = `${indent}\t`;
  switch (node.kind) {
    case 'map': {
      const parts = node.items
        .filter((i) => i.kind === 'entry')
        .map((e) => `${inner}${JSON.stringify(e.key)}: ${json(e.value, inner)}`);
      return parts.length === 0 ? '{}' : `{\n${parts.join(',\n')}\n${indent}}`;
    }
    case 'seq': {
      const parts = node.items
        .filter((i): i is Node => i.kind !== 'comment')
        .map((item) => `${inner}${json(item, inner)}`);
      return parts.length === 0 ? '[]' : `[\n${parts.join(',\n')}\n${indent}]`;
    }
    case 'str':
      return JSON.stringify(node.value);
    case 'int':
      return node.value.toString();
    case 'float':
      return jsonFloat(node.value);
    case 'bool':
      return node.value ? 'true' : 'false';
    case 'null':
      return 'null';
  }
}

/** Go encoding/json float spelling (same as JS), with `.0` so it reads back as a float. */
function jsonFloat(x: number): string {
  if (!Number.isFinite(x)) throw new Error('NaN and infinity cannot be written as JSON');
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}
