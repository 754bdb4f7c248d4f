import { sopsError } from './errors.ts';
import type { MacHasher } from './mac.ts';
import type { PathTest } from './rules.ts';
import { escapePointer, str, type Comment, type Leaf, type MapNode, type Node, type Scalar } from './tree.ts';
import {
  decryptValue,
  encryptValue,
  fromPlaintext,
  isEncValue,
  plaintextOf,
  ValueError,
  type EncType,
} from './value-cipher.ts';

/** IVs seen while decrypting, keyed by type, AAD and plaintext (sops' "stash"). */
export type IvStash = Map<string, Buffer>;

export interface WalkContext {
  file: string;
  key: Uint8Array;
  shouldEncrypt: PathTest;
  mac: MacHasher;
  /** Decrypt fills it; encrypt reuses an IV only for the identical plaintext at the same AAD. */
  stash?: IvStash;
}

interface Visitor {
  /** `inSeq`: only a list item may turn out to be a comment (sops 3.13.2 wrote them so). */
  leaf(value: Leaf, path: readonly string[], pointer: string, inSeq: boolean): Scalar | Comment;
  comment(c: Comment, path: readonly string[]): Comment;
}

/** Decrypts every leaf the rule selects and feeds the MAC, as sops' `Tree.Decrypt`. */
export function decryptTree(tree: MapNode, ctx: WalkContext): MapNode {
  return walkMap(tree, [], '', {
    leaf(value, path, pointer, inSeq) {
      if (!ctx.shouldEncrypt(path)) {
        ctx.mac.add(value, false);
        return value;
      }
      if (value.kind !== 'str')
        throw sopsError('SopsBadValue', ctx.file, `${pointer}: expected an encrypted value`, { path: pointer });
      // sops leaves "" unencrypted; it adds no bytes to the MAC.
      if (value.value === '') return value;
      let typed: Leaf | Comment;
      try {
        const { type, plain, iv } = decryptValue(value.value, ctx.key, aad(path));
        typed = fromPlaintext(type, plain);
        ctx.stash?.set(stashKey(type, aad(path), plain), iv);
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        throw sopsError('SopsBadValue', ctx.file, `${pointer}: ${err.message}`, { path: pointer });
      }
      if (typed.kind !== 'comment') ctx.mac.add(typed, true);
      else if (!inSeq)
        throw sopsError('SopsBadValue', ctx.file, `${pointer}: a comment where a value was expected`, {
          path: pointer,
        });
      return typed;
    },
    comment(c, path) {
      if (!ctx.shouldEncrypt(path) || !isEncValue(c.text)) return c;
      // go-yaml and the yaml package may attach a comment to an enclosing map: try outwards.
      for (let n = path.length; n >= 0; n--) {
        try {
          const { type, plain, iv } = decryptValue(c.text, ctx.key, aad(path.slice(0, n)));
          if (type !== 'comment') break;
          ctx.stash?.set(stashKey(type, aad(path.slice(0, n)), plain), iv);
          return { kind: 'comment', text: plain.toString('utf8') };
        } catch {
          // sops also keeps a comment it cannot decrypt as it is.
        }
      }
      return c;
    },
  });
}

/** Encrypts every leaf (and comment) the rule selects; returns the tree, the MAC is in ctx. */
export function encryptTree(tree: MapNode, ctx: WalkContext): MapNode {
  const seal = (type: EncType, plain: Buffer, path: readonly string[]): string =>
    encryptValue(type, plain, ctx.key, aad(path), ctx.stash?.get(stashKey(type, aad(path), plain)));
  return walkMap(tree, [], '', {
    leaf(value, path) {
      const encrypted = ctx.shouldEncrypt(path);
      ctx.mac.add(value, encrypted);
      if (!encrypted) return value;
      const { type, bytes } = plaintextOf(value);
      return str(seal(type, bytes, path));
    },
    comment(c, path) {
      if (!ctx.shouldEncrypt(path)) return c;
      return { kind: 'comment', text: seal('comment', Buffer.from(c.text, 'utf8'), path) };
    },
  });
}

function walkMap(map: MapNode, path: readonly string[], pointer: string, v: Visitor): MapNode {
  return {
    kind: 'map',
    items: map.items.map((item) => {
      if (item.kind === 'comment') return v.comment(item, path);
      const at = `${pointer}/${escapePointer(item.key)}`;
      const value = walkNode(item.value, [...path, item.key], at, v, false);
      if (value.kind === 'comment') throw new Error('internal: a comment as a map value');
      return { kind: 'entry', key: item.key, value };
    }),
  };
}

function walkNode(node: Node, path: readonly string[], pointer: string, v: Visitor, inSeq: boolean): Node | Comment {
  switch (node.kind) {
    case 'map':
      return walkMap(node, path, pointer, v);
    case 'seq': {
      let index = 0;
      // List items inherit the list's path: sops' AAD has no indices.
      const items = node.items.map((item) =>
        item.kind === 'comment'
          ? v.comment(item, path)
          : walkNode(item, path, `${pointer}/${String(index++)}`, v, true),
      );
      return { kind: 'seq', items };
    }
    case 'null':
      // sops never visits nulls: not encrypted, not in the MAC.
      return node;
    default:
      return v.leaf(node, path, pointer, inSeq);
  }
}

function aad(path: readonly string[]): string {
  return `${path.join(':')}:`;
}

function stashKey(type: EncType, additionalData: string, plain: Buffer): string {
  return `${type}\0${additionalData}\0${plain.toString('base64')}`;
}
