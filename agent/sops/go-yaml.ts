import type { Scalar } from './tree.ts';

/**
 * How go-yaml v3 (the parser inside sops) types a plain, untagged YAML scalar when decoding
 * into `interface{}` — which differs from the YAML 1.2 core schema the `yaml` package uses:
 * `0777` is octal 511, `1_000` is 1000, `08` is float 8, `2024-01-01` stays a string.
 * `uint64` marks integers in 2^63..2^64-1, which sops cannot handle.
 */
export type GoPlain = Scalar | { kind: 'uint64' };

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const TRUES = new Set(['true', 'True', 'TRUE']);
const FALSES = new Set(['false', 'False', 'FALSE']);
const SPECIAL_FLOATS = new Map<string, number>([
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Infinity] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, -Infinity] as const),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, NaN] as const),
]);
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
// strconv.ParseInt(s, 0, 64) after go-yaml removed every `_`.
const GO_INT = /^([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|0([0-7]*)|([1-9][0-9]*))$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** go-yaml v3 `resolve()` for a plain scalar, as `node.Decode(&interface{})` would see it. */
export function resolvePlain(text: string): GoPlain {
  if (NULLS.has(text)) return { kind: 'null' };
  if (TRUES.has(text)) return { kind: 'bool', value: true };
  if (FALSES.has(text)) return { kind: 'bool', value: false };
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return { kind: 'float', value: special };
  const first = text[0] ?? '';
  if (first === '.') {
    const plain = text.replaceAll('_', '');
    return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(plain) ? { kind: 'float', value: Number(plain) } : str(text);
  }
  if (!/[-+0-9]/.test(first)) return str(text);
  // Timestamps decode to their text "for backward compatibility"; nothing else starts YYYY-.
  if (/^[0-9]{4}-/.test(text)) return str(text);
  const plain = text.replaceAll('_', '');
  const int = goParseInt(plain);
  if (int !== undefined) {
    if (int >= INT64_MIN && int <= INT64_MAX) return { kind: 'int', value: int };
    if (int > 0n && int <= UINT64_MAX && !plain.startsWith('-')) return { kind: 'uint64' };
  }
  if (YAML_STYLE_FLOAT.test(plain)) return { kind: 'float', value: Number(plain) };
  return str(text);
}

function str(value: string): Scalar {
  return { kind: 'str', value };
}

function goParseInt(s: string): bigint | undefined {
  const m = GO_INT.exec(s);
  if (!m) return undefined;
  const [, sign, hex, bin, oct, legacyOct, dec] = m;
  const magnitude =
    hex !== undefined
      ? BigInt(`0x${hex}`)
      : bin !== undefined
        ? BigInt(`0b${bin}`)
        : oct !== undefined
          ? BigInt(`0o${oct}`)
          : legacyOct !== undefined
            ? legacyOct === ''
              ? 0n
              : BigInt(`0o${legacyOct}`)
            : BigInt(dec ?? '');
  return sign === '-' ? -magnitude : magnitude;
}

/**
 * True when a string must be quoted so go-yaml (and YAML 1.1 readers, like go-yaml's own
 * encoder assumes) read it back as the same string.
 */
export function needsQuotes(s: string): boolean {
  if (resolvePlain(s).kind !== 'str') return true;
  if (/^[0-9]{4}-/.test(s)) return true;
  if (/^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$/.test(s)) return true;
  return /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/.test(s);
}

/** Go `strconv.FormatFloat(x, 'f', -1, 64)`: the spelling sops hashes into the MAC. */
export function goFormatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const { sign, digits, point } = decimalDigits(x);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * Go `strconv.FormatFloat(x, 'g', -1, 64)` as go-yaml writes floats, plus `.0` where that
 * would read back as an integer, so a decrypted float stays a float when re-encrypted.
 */
export function goYamlFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const { sign, digits, point } = decimalDigits(x);
  const exp = point - 1;
  if (exp < -4 || exp >= 6) {
    const mantissa = digits.length > 1 ? `${digits[0] ?? ''}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${sign}${mantissa}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${String(e)}`;
  }
  const fixed = goFormatFloat(x);
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

/** Shortest round-trip decimal digits of a finite non-zero float and its decimal point. */
function decimalDigits(x: number): { sign: string; digits: string; point: number } {
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(x.toExponential());
  if (!m) throw new Error(`unexpected float spelling ${x.toExponential()}`);
  const [, sign = '', lead = '', rest = '', exp = '0'] = m;
  return { sign, digits: lead + rest, point: Number(exp) + 1 };
}
