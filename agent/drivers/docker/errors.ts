import { AgentError, type ErrorCode } from '../../core/errors.ts';

const UNAVAILABLE = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** HTTP status of a Docker API error (`DockerApiError.statusCode`); undefined for other errors. */
export function dockerStatus(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The engine's own message for an API error ("No such container: …"), else the error's message. */
export function dockerMessage(err: unknown): string {
  const json = (err as { json?: unknown } | null)?.json;
  if (json !== null && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message;
  }
  return (err instanceof Error ? err.message : String(err)).trim();
}

/**
 * Turns an error of the engine client into an AgentError: `DockerUnavailable` (transient) when the engine
 * cannot be reached, else `code` with the engine's message. Data holds only what is safe to log.
 */
export function dockerError(
  err: unknown,
  code: ErrorCode,
  what: string,
  data: Record<string, unknown> = {},
): AgentError {
  if (err instanceof AgentError) return err;
  const sys = (err as { code?: unknown } | null)?.code;
  if (typeof sys === 'string' && UNAVAILABLE.has(sys)) {
    return new AgentError('DockerUnavailable', `the Docker engine cannot be reached (${sys}) while trying to ${what}`, {
      cause: err,
      data: { ...data, errno: sys },
    });
  }
  const status = dockerStatus(err);
  return new AgentError(code, `${what}: ${dockerMessage(err)}`, {
    cause: err,
    data: { ...data, ...(status === undefined ? {} : { status }) },
  });
}

/** Runs `fn`, treating "not found" (404) as done: for cleanups of things that may be gone. */
export async function ignoreMissing(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (dockerStatus(err) !== 404) throw err;
  }
}
