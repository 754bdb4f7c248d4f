import { AgentError } from '../../core/errors.ts';
import type { ForgeSettings } from '../../core/config-types.gen.ts';

/** A commit status as the agent means it; each forge gets its own words for the state. */
export interface CommitStatus {
  sha: string;
  /** `appliance/<name>`. */
  context: string;
  state: 'pending' | 'success' | 'failure' | 'error';
  description: string;
  targetUrl?: string;
}

/** One HTTP request to a forge's API; the token is only in `headers` (never logged). */
export interface ForgeRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** GitHub and GitLab cap descriptions (140 and 255 characters); the shorter cap is kept for all. */
const MAX_DESCRIPTION = 140;

/**
 * The request that posts `status` (paths and payloads from the forges' API docs):
 * GitHub `POST /repos/{owner}/{repo}/statuses/{sha}` with `Authorization: Bearer`;
 * Gitea and Forgejo `POST /repos/{owner}/{repo}/statuses/{sha}` under /api/v1 with
 * `Authorization: token`; GitLab `POST /projects/{id}/statuses/{sha}` with `PRIVATE-TOKEN`,
 * `name` for the context and `failed` for failure and error.
 */
export function commitStatusRequest(forge: ForgeSettings, status: CommitStatus): ForgeRequest {
  const root = forge.api_url.replace(/\/+$/, '');
  const description =
    status.description.length > MAX_DESCRIPTION
      ? `${status.description.slice(0, MAX_DESCRIPTION - 1)}…`
      : status.description;
  const target = status.targetUrl === undefined ? {} : { target_url: status.targetUrl };
  const json = { 'Content-Type': 'application/json', Accept: 'application/json', 'User-Agent': 'appliance-agent' };
  switch (forge.kind) {
    case 'github':
      return {
        method: 'POST',
        url: `${root}/repos/${repoPath(forge.repository)}/statuses/${status.sha}`,
        headers: { ...json, Accept: 'application/vnd.github+json', Authorization: `Bearer ${forge.token}` },
        body: JSON.stringify({ state: status.state, context: status.context, description, ...target }),
      };
    case 'gitea':
      return {
        method: 'POST',
        url: `${root}/repos/${repoPath(forge.repository)}/statuses/${status.sha}`,
        headers: { ...json, Authorization: `token ${forge.token}` },
        body: JSON.stringify({ state: status.state, context: status.context, description, ...target }),
      };
    case 'gitlab': {
      const state = status.state === 'error' || status.state === 'failure' ? 'failed' : status.state;
      return {
        method: 'POST',
        url: `${root}/projects/${encodeURIComponent(forge.repository)}/statuses/${status.sha}`,
        headers: { ...json, 'PRIVATE-TOKEN': forge.token },
        body: JSON.stringify({ state, name: status.context, description, ...target }),
      };
    }
  }
}

/**
 * Sends a request; a status other than 2xx or a network failure is a `ForgeUnavailable`
 * (transient) or, for 401/403, a `ForgeUnauthorized` error. Messages hold no token.
 */
export async function sendForgeRequest(req: ForgeRequest, timeoutMs = 10_000): Promise<void> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const why = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw new AgentError('ForgeUnavailable', `${req.method} ${req.url}: ${why}`, { data: { url: req.url } });
  }
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return;
  const code = res.status === 401 || res.status === 403 ? 'ForgeUnauthorized' : 'ForgeUnavailable';
  throw new AgentError(code, `${req.method} ${req.url}: HTTP ${res.status}`, {
    data: { url: req.url, status: res.status },
  });
}

function repoPath(repository: string): string {
  return repository
    .split('/')
    .map((p) => encodeURIComponent(p))
    .join('/');
}
