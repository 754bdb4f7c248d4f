/**
 * Which leaves sops encrypts. Exactly one rule applies to a file; without one sops uses
 * `unencrypted_suffix: _unencrypted`. `kind` is the metadata key the rule is stored under.
 */
export type EncryptionRule =
  | { kind: 'unencrypted_suffix'; value: string }
  | { kind: 'encrypted_suffix'; value: string }
  | { kind: 'unencrypted_regex'; value: string }
  | { kind: 'encrypted_regex'; value: string };

export const RULE_KINDS = ['unencrypted_suffix', 'encrypted_suffix', 'unencrypted_regex', 'encrypted_regex'] as const;

export const DEFAULT_RULE: EncryptionRule = { kind: 'unencrypted_suffix', value: '_unencrypted' };

/** A rule ready to test key paths with (`shouldBeEncrypted` in sops.go). */
export type PathTest = (path: readonly string[]) => boolean;

/**
 * Compiles a rule. Every ancestor key counts: a value is encrypted iff (suffix/regex) some or
 * no path component matches. Throws Error with a secret-free message for a bad regex.
 */
export function compileRule(rule: EncryptionRule): PathTest {
  switch (rule.kind) {
    case 'unencrypted_suffix':
      return (path) => !path.some((k) => k.endsWith(rule.value));
    case 'encrypted_suffix':
      return (path) => path.some((k) => k.endsWith(rule.value));
    case 'unencrypted_regex': {
      const re = goRegExp(rule.value);
      return (path) => !path.some((k) => re.test(k));
    }
    case 'encrypted_regex': {
      const re = goRegExp(rule.value);
      return (path) => path.some((k) => re.test(k));
    }
  }
}

/**
 * Translates a Go RE2 pattern to an equivalent JS RegExp (unanchored search, like Go's
 * `regexp.Match`), or throws where the dialects differ and a translation would guess.
 */
export function goRegExp(pattern: string): RegExp {
  const inline = /^\(\?([ims]+)\)/.exec(pattern);
  const flags = `u${inline?.[1] ?? ''}`;
  const src = pattern.slice(inline?.[0].length ?? 0);
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i] ?? '';
    const next = src[i + 1] ?? '';
    if (c === '\\') {
      if (/[1-9CQE]/.test(next)) throw new Error(`unsupported regex escape \\${next}: ${pattern}`);
      out += next === 'A' ? '(?<![\\s\\S])' : next === 'z' ? '(?![\\s\\S])' : c + next;
      i++;
    } else if (inClass) {
      if (c === '[' && next === ':') throw new Error(`POSIX character classes are not supported: ${pattern}`);
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (next === '^') out += src[++i] ?? '';
      // A leading `]` is literal in Go; JS needs it escaped.
      if (src[i + 1] === ']') {
        out += '\\]';
        i++;
      }
    } else if (c === '(' && next === '?') {
      const group = /^\(\?(?:P?<([A-Za-z_]\w*)>|:)/.exec(src.slice(i));
      if (!group) throw new Error(`unsupported regex group (lookaround or inline flags): ${pattern}`);
      out += group[1] === undefined ? '(?:' : `(?<${group[1]}>`;
      i += group[0].length - 1;
    } else {
      out += c;
    }
  }
  try {
    return new RegExp(out, flags);
  } catch {
    throw new Error(`invalid regex: ${pattern}`);
  }
}
