import git, { type HttpClient, type GitAuth } from 'isomorphic-git';
import { AgentError, describeError, isAgentError } from '../core/errors.ts';
import { isLoopbackHost } from '../core/loopback.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import type { GitCredentials } from './credentials.ts';

/** A remote URL split into the part that may be shown and the credentials it carried. */
export interface ParsedSourceUrl {
  /** The URL without userinfo: safe for logs, errors, status and `.git/config`. */
  url: string;
  /** Credentials that were embedded as `https://user:pass@host/…`, if any. */
  auth?: GitCredentials;
}

/**
 * Splits `raw` into a credential-free URL and the credentials from its userinfo. Only https is
 * accepted, and http to a loopback host (or anywhere with `allowInsecureHttp`): credentials
 * then go out only where they cannot be read on the way. The message of a refusal never
 * repeats the URL (it may hold a secret).
 */
export function parseSourceUrl(raw: string, options: { allowInsecureHttp?: boolean } = {}): ParsedSourceUrl {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new AgentError('InvalidSourceUrl', 'config repo URL is not a valid URL', { terminal: true });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new AgentError('InvalidSourceUrl', `config repo URL must be http(s), not ${parsed.protocol}`, {
      terminal: true,
      data: { protocol: parsed.protocol },
    });
  }
  if (parsed.protocol === 'http:' && !isLoopbackHost(parsed.hostname) && options.allowInsecureHttp !== true) {
    throw new AgentError(
      'InsecureSourceUrl',
      'config repo URL is http:// to a host that is not loopback: use https:// (or allow insecure http in the bootstrap config)',
      { terminal: true, data: { protocol: parsed.protocol } },
    );
  }
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  const url = parsed.toString().replace(/\/+$/, '');
  if (username === '' && password === '') return { url };
  return { url, auth: { username: username === '' ? 'x-access-token' : username, password } };
}

/** How to talk to one remote; `auth` is never logged or stored. */
export interface RemoteOptions {
  url: string;
  http: HttpClient;
  auth: GitCredentials | undefined;
  /** Deadline for one network operation (ref advertisement, or a whole fetch). */
  timeoutMs: number;
  /** Values to mask in error text (the credentials are added). */
  secrets: SecretRegistry;
}

/**
 * The remote of a config repo URL, checked by parseSourceUrl. Credentials given apart win over
 * any in the URL (`urlHadAuth` says whether it had some, to warn); a token sent as the user name
 * (empty password) is masked like a password.
 */
export function openRemote(
  url: string,
  options: {
    allowInsecureHttp?: boolean;
    auth?: GitCredentials;
    timeoutMs?: number;
    http: HttpClient;
    secrets?: SecretRegistry | undefined;
  },
): { remote: Remote; url: string; urlHadAuth: boolean } {
  const parsed = parseSourceUrl(url, { allowInsecureHttp: options.allowInsecureHttp === true });
  const auth = options.auth ?? parsed.auth;
  const secrets = options.secrets ?? new SecretRegistry();
  if (auth?.password === '') secrets.add(auth.username);
  const remote = new Remote({
    url: parsed.url,
    http: options.http,
    auth,
    timeoutMs: options.timeoutMs ?? 60_000,
    secrets,
  });
  return { remote, url: parsed.url, urlHadAuth: parsed.auth !== undefined };
}

/**
 * The network side of the source: one ref advertisement to learn the branch head, and a fetch
 * into a bare git dir. Credentials go out only in the Authorization header: sent up front so a
 * poll costs one request, and through isomorphic-git's onAuth if the server challenges anyway.
 */
export class Remote {
  constructor(private readonly options: RemoteOptions) {
    if (options.auth !== undefined) options.secrets.add(options.auth.password, basicHeader(options.auth));
  }

  get url(): string {
    return this.options.url;
  }

  /** The commit `refs/heads/<branch>` points at: one `GET info/refs?service=git-upload-pack`. */
  async headOf(branch: string): Promise<string> {
    const ref = `refs/heads/${branch}`;
    const refs = await this.guard('ls-remote', (http) =>
      git.listServerRefs({ http, url: this.url, protocolVersion: 1, prefix: ref, ...this.authArgs() }),
    );
    const found = refs.find((r) => r.ref === ref);
    if (found === undefined) throw this.branchMissing(branch);
    return found.oid;
  }

  private branchMissing(branch: string): AgentError {
    return new AgentError('SourceBranchMissing', `branch ${branch} does not exist in ${this.url}`, {
      data: { url: this.url, branch },
    });
  }

  /**
   * Fetches `branch` into the bare repository `gitdir` (single branch, no tags). `depth` limits
   * history for a first clone; later fetches pass none and the server stops at what we have and
   * at our shallow boundary. Returns the fetched head commit.
   */
  async fetch(args: {
    fs: Parameters<typeof git.fetch>[0]['fs'];
    gitdir: string;
    branch: string;
    depth?: number;
    cache: object;
  }): Promise<string> {
    const remoteRef = `refs/heads/${args.branch}`;
    const head = await this.fetchOne(
      // `ref` names the local ref whose commit is offered as "have"; `remoteRef` is what we want.
      { ...args, remote: 'origin', ref: `refs/remotes/origin/${args.branch}`, remoteRef },
      // A first clone fetches without polling first, so a missing branch shows up here.
      (what) => (what === remoteRef ? this.branchMissing(args.branch) : undefined),
    );
    if (head === null) {
      throw new AgentError('SourceBranchMissing', `${this.url} has no branches`, {
        data: { url: this.url, branch: args.branch },
      });
    }
    return head;
  }

  /** Every ref under `prefix` (e.g. `refs/pull/`) and its commit: one ref advertisement. */
  async listRefs(prefix: string): Promise<{ ref: string; oid: string }[]> {
    const refs = await this.guard('ls-remote', (http) =>
      git.listServerRefs({ http, url: this.url, protocolVersion: 1, prefix, ...this.authArgs() }),
    );
    return refs.filter((r) => r.ref.startsWith(prefix)).map((r) => ({ ref: r.ref, oid: r.oid }));
  }

  /**
   * Fetches the commit of one remote ref by its full name (`refs/pull/7/head`) into `gitdir`,
   * `depth` commits deep, and returns that commit. No local ref is written.
   */
  async fetchRef(args: {
    fs: Parameters<typeof git.fetch>[0]['fs'];
    gitdir: string;
    remoteRef: string;
    depth: number;
    cache: object;
  }): Promise<string> {
    // The ref went away between the listing and the fetch (a closed pull request).
    const missing = (): AgentError => this.refMissing(args.remoteRef);
    const head = await this.fetchOne({ ...args, remote: 'review', ref: 'HEAD' }, missing);
    if (head === null) throw missing();
    return head;
  }

  /** One branch or ref, no tags; `missing` turns isomorphic-git's NotFoundError into ours. */
  private async fetchOne(
    args: {
      fs: Parameters<typeof git.fetch>[0]['fs'];
      gitdir: string;
      remote: string;
      ref: string;
      remoteRef: string;
      depth?: number;
      cache: object;
    },
    missing: (what: unknown) => AgentError | undefined,
  ): Promise<string | null> {
    const result = await this.guard('fetch', (http) =>
      git
        .fetch({
          fs: args.fs,
          http,
          gitdir: args.gitdir,
          url: this.url,
          remote: args.remote,
          ref: args.ref,
          remoteRef: args.remoteRef,
          singleBranch: true,
          tags: false,
          cache: args.cache,
          ...(args.depth === undefined ? {} : { depth: args.depth }),
          ...this.authArgs(),
        })
        .catch((err: unknown) => {
          const e = err as { code?: unknown; data?: { what?: unknown } };
          if (e.code === 'NotFoundError') throw missing(e.data?.what) ?? err;
          throw err;
        }),
    );
    return result.fetchHead;
  }

  private refMissing(ref: string): AgentError {
    return new AgentError('SourceBranchMissing', `${this.url} has no ref ${ref}`, { data: { url: this.url, ref } });
  }

  private authArgs(): { headers: Record<string, string>; onAuth?: () => GitAuth; onAuthFailure?: () => GitAuth } {
    const auth = this.options.auth;
    if (auth === undefined) return { headers: {} };
    return {
      headers: { Authorization: basicHeader(auth) },
      onAuth: () => ({ username: auth.username, password: auth.password }),
      // Never retry rejected credentials: the first 401 after sending them is the answer.
      onAuthFailure: () => ({ cancel: true }),
    };
  }

  /** Runs one network operation under the deadline and turns failures into source errors. */
  private async guard<T>(op: string, body: (http: HttpClient) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const inner = this.options.http;
    const http: HttpClient = { request: (req) => inner.request({ ...req, signal: controller.signal }) };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new AgentError('SourceTimeout', 'timed out'));
      }, this.options.timeoutMs);
    });
    try {
      return await Promise.race([body(http), deadline]);
    } catch (err) {
      throw toSourceError(err, op, this.url, this.options.timeoutMs, this.options.secrets);
    } finally {
      clearTimeout(timer);
    }
  }
}

function basicHeader(auth: GitCredentials): string {
  return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ABORT_ERR',
  'UND_ERR_SOCKET',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** File-system failures of the local store during a fetch: not bad data from the server. */
const LOCAL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE']);

/**
 * Maps a failure of isomorphic-git or the HTTP client to a source error whose message names the
 * credential-free URL. The original error is kept as `cause` only as a scrubbed copy.
 */
export function toSourceError(
  err: unknown,
  op: string,
  url: string,
  timeoutMs: number,
  secrets: SecretRegistry,
): AgentError {
  if (isAgentError(err) && err.code !== 'SourceTimeout') return err;
  const code = errorCode(err);
  const status = httpStatus(err);
  const reason = secrets.scrub(describeError(err));
  const cause = new Error(reason);
  const data = {
    url,
    op,
    ...(code === undefined ? {} : { errorCode: code }),
    ...(status === undefined ? {} : { status }),
  };
  if (isAgentError(err, 'SourceTimeout')) {
    return new AgentError('SourceUnreachable', `config repo ${url} did not answer within ${timeoutMs} ms (${op})`, {
      data,
      cause,
    });
  }
  if (code === 'UserCanceledError' || status === 401 || status === 403) {
    return new AgentError('SourceAuthFailed', `config repo ${url} refused the credentials (${status ?? 401})`, {
      terminal: true,
      data,
      cause,
    });
  }
  if (status === 404) {
    return new AgentError('SourceNotFound', `config repo ${url} was not found (404)`, { terminal: true, data, cause });
  }
  if (status !== undefined) {
    return new AgentError('SourceUnreachable', `config repo ${url} answered HTTP ${status} (${op})`, { data, cause });
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || /timed out|socket hang up|aborted/i.test(reason)) {
    return new AgentError('SourceUnreachable', `cannot reach config repo ${url}: ${code ?? reason}`, { data, cause });
  }
  if (code !== undefined && LOCAL_CODES.has(code)) {
    return new AgentError('SourceStoreFailed', `cannot write the local copy of ${url} (${op}): ${code}`, {
      data,
      cause,
    });
  }
  if (code === 'SmartHttpError') {
    return new AgentError('SourceUnreachable', `${url} did not answer as a git smart-HTTP server`, { data, cause });
  }
  return new AgentError('SourceCorrupt', `bad data from config repo ${url} (${op}): ${reason}`, { data, cause });
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function httpStatus(err: unknown): number | undefined {
  if (errorCode(err) !== 'HttpError') return undefined;
  const data = (err as { data?: { statusCode?: unknown } }).data;
  return typeof data?.statusCode === 'number' ? data.statusCode : undefined;
}
