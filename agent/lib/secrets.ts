/**
 * Secret values known at run time (decrypted env.yml leaves, tokens). Anything that leaves the
 * process as text — logs, errors, status — is passed through `scrub`, so a secret is masked
 * by value even where no key name gives it away.
 */
export class SecretRegistry {
  private readonly values = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers values to mask; very short values are skipped so ordinary words survive. */
  add(...values: readonly string[]): void {
    const before = this.values.size;
    for (const v of values) {
      if (v.length >= 4) this.values.add(v);
      // A multi-line secret (a PEM key) is also masked line by line.
      if (v.includes('\n')) for (const line of v.split('\n')) if (line.length >= 16) this.values.add(line);
    }
    // The agent adds the same values every cycle: rebuild the pattern only when something is new.
    if (this.values.size !== before) this.pattern = undefined;
  }

  get size(): number {
    return this.values.size;
  }

  /** Returns `text` with every registered secret replaced by `[REDACTED]`. */
  scrub(text: string): string {
    if (this.values.size === 0) return text;
    this.pattern ??= new RegExp(
      [...this.values]
        .sort((a, b) => b.length - a.length)
        .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.pattern, '[REDACTED]');
  }

  /** Deep copy of `value` with every string scrubbed. */
  scrubDeep<T>(value: T): T {
    return scrubValue(value, this, 0) as T;
  }
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
      out[k] = isSecretKey(k) && typeof v === 'string' ? '[REDACTED]' : scrubValue(v, reg, depth + 1);
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
