import { pino, type Logger, type DestinationStream } from 'pino';
import { SecretRegistry } from './secrets.ts';

export type { Logger } from 'pino';

/**
 * The root logger: JSON lines, every record scrubbed of known secret values and of values
 * under secret-looking keys. Made once in main.ts and passed down as `log.child(...)`.
 */
export function createLogger(
  options: { level?: string; secrets?: SecretRegistry; destination?: DestinationStream } = {},
): Logger {
  const secrets = options.secrets ?? new SecretRegistry();
  return pino(
    {
      level: options.level ?? 'info',
      base: null,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => secrets.scrubDeep(obj),
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? secrets.scrub(a) : a));
          scrubbed[0] = withoutBound(scrubbed[0], this.bindings());
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination(2),
  );
}

/**
 * pino writes a child's bindings and the call's fields side by side, so a key in both (a
 * `revision`) appeared twice in one JSON line. The same value is dropped from the call; a
 * different one is kept as `<key>Logged`.
 */
function withoutBound(first: unknown, bound: Record<string, unknown>): unknown {
  if (first === null || typeof first !== 'object' || first instanceof Error || Array.isArray(first)) return first;
  const fields = first as Record<string, unknown>;
  if (!Object.keys(fields).some((k) => k in bound)) return first;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (!(k in bound)) out[k] = v;
    else if (bound[k] !== v) out[`${k}Logged`] = v;
  }
  return out;
}
