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
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination(2),
  );
}
