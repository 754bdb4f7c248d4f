/**
 * Secret values known at run time (decrypted env.yml leaves, tokens). Anything that leaves the
 * process as text — logs, errors, status — is passed through `scrub`, so a secret is masked
 * by value even where no key name gives it away.
 */
export class SecretRegistry {
  private readonly values = new Set<string>();
  /** Values too short to mask inside words: masked only where they stand alone. */
  private readonly tokens = new Set<string>();
  private pattern: RegExp | undefined;

  /**
   * Registers values to mask, with their URL-encoded forms. Values of 4 characters or more are
   * masked wherever they appear; shorter ones and numbers (a PIN) only as a whole token, so
   * ordinary words, dates and counters survive.
   */
  add(...values: readonly (string | number)[]): void {
    const before = this.values.size + this.tokens.size;
    for (const raw of values) {
      const v = String(raw);
      if (v === '') continue;
      for (const form of encodings(v)) (form.length < 4 || /^\d+$/.test(form) ? this.tokens : this.values).add(form);
      // A multi-line secret (a PEM key) is also masked line by line.
      if (v.includes('\n')) for (const line of v.split('\n')) if (line.length >= 16) this.values.add(line);
    }
    // The agent adds the same values every cycle: rebuild the pattern only when something is new.
    if (this.values.size + this.tokens.size !== before) this.pattern = undefined;
  }

  get size(): number {
    return this.values.size + this.tokens.size;
  }

  /** Returns `text` with every registered secret replaced by `[REDACTED]`. */
  scrub(text: string): string {
    if (this.size === 0) return text;
    this.pattern ??= this.build();
    return text.replace(this.pattern, '[REDACTED]');
  }

  private build(): RegExp {
    const alternatives = (set: Set<string>): string =>
      [...set]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|');
    const parts: string[] = [];
    if (this.values.size > 0) parts.push(alternatives(this.values));
    if (this.tokens.size > 0) parts.push(`(?<![\\p{L}\\p{N}_])(?:${alternatives(this.tokens)})(?![\\p{L}\\p{N}_])`);
    return new RegExp(parts.join('|'), 'gu');
  }

  /** Deep copy of `value` with every string scrubbed. */
  scrubDeep<T>(value: T): T {
    return scrubValue(value, this, 0) as T;
  }
}

/** The value as written, and as it appears in a URL or a form body. */
function encodings(v: string): string[] {
  const url = encodeURIComponent(v);
  const lower = url.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase());
  const form = url.replace(/%20/g, '+');
  return [...new Set([v, url, lower, form])];
}

const SECRET_KEY = /(pass(word)?|secret|token|private|credential|api[_-]?key|dsn|^key$|_key$)/i;

/** True when a key name says its value is secret (used for masking by key). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

function scrubValue(value: unknown, reg: SecretRegistry, depth: number): unknown {
  if (depth > 32) return '[DEPTH]';
  if (typeof value === 'string') return reg.scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, reg, depth + 1));
  if (value instanceof Error) return scrubValue(errorToObject(value), reg, depth + 1);
  if (value !== null && typeof value === 'object') {
    // Runs on every log record and status write: no [key, value] pair arrays per property.
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src)) {
      const v = src[k];
      out[k] =
        isSecretKey(k) && (typeof v === 'string' || typeof v === 'number')
          ? '[REDACTED]'
          : scrubValue(v, reg, depth + 1);
    }
    return out;
  }
  return value;
}

function errorToObject(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  const extra = err as unknown as Record<string, unknown>;
  for (const k of ['code', 'data', 'terminal']) if (extra[k] !== undefined) out[k] = extra[k];
  if (err.cause !== undefined) out['cause'] = err.cause instanceof Error ? errorToObject(err.cause) : err.cause;
  return out;
}
