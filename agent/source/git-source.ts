import nodeFs from 'node:fs';
import { mkdir, rm, access } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git, { type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { AgentError, isAgentError } from '../core/errors.ts';
import type { Logger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import { CheckoutStore, readAcceptedState, writeAcceptedState, type AcceptedState } from './checkouts.ts';
import type { GitCredentials } from './credentials.ts';
import { parseSourceUrl, Remote } from './remote.ts';
import { SignatureVerifier, type TrustedSigner, type VerifiedSignature } from './signatures.ts';

/** The file system isomorphic-git uses (node:fs by default). */
export type GitFs = Parameters<typeof git.fetch>[0]['fs'];

/** Injected clients; everything but `log` has a real default. */
export interface GitSourceDeps {
  fs?: GitFs;
  http?: HttpClient;
  log: Logger;
  now?: () => Date;
  /** The registry the root logger scrubs with; the credentials are added to it. */
  secrets?: SecretRegistry;
}

/** Where to pull from and what to accept. */
export interface GitSourceOptions {
  /** http(s) URL; userinfo in it is stripped and used as credentials when `auth` is not given. */
  url: string;
  branch: string;
  /** Holds `repo.git`, `checkouts/<commit>`, `current` and `source.json`. */
  stateDir: string;
  auth?: GitCredentials;
  /** When given (even empty), only a head commit signed by one of these is accepted. */
  trustedSigners?: readonly TrustedSigner[];
  /** Accept a head that does not descend from the last accepted revision. */
  allowRewind?: boolean;
  /** Deadline for one network operation in ms (default 60 000). */
  timeoutMs?: number;
  /** History depth of the first clone (default 1; 0 = full history). Later fetches are incremental. */
  cloneDepth?: number;
}

/** Outcome of a sync: the revision in force and the checkout directory to read it from. */
export interface SyncResult {
  changed: boolean;
  revision: string;
  dir: string;
}

/** The revision in force. */
export interface CurrentRevision {
  revision: string;
  dir: string;
}

/**
 * The config repository as the agent sees it: polls the branch head with one ref advertisement,
 * fetches only when it moved, accepts the new head only if it is signed by a trusted key (when
 * configured) and descends from the last accepted revision (unless `allowRewind`), then switches
 * to an immutable checkout of it. Any refusal or failure leaves the last accepted revision in force.
 */
export class GitSource {
  private readonly fs: GitFs;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly remote: Remote;
  private readonly url: string;
  private readonly stateDir: string;
  private readonly gitdir: string;
  private readonly stateFile: string;
  private readonly store: CheckoutStore;
  private verifier: Promise<SignatureVerifier> | undefined;
  private inflight: Promise<SyncResult> | undefined;

  constructor(
    deps: GitSourceDeps,
    private readonly options: GitSourceOptions,
  ) {
    const parsed = parseSourceUrl(options.url);
    this.url = parsed.url;
    this.fs = deps.fs ?? nodeFs;
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log.child({ component: 'source', url: this.url, branch: options.branch });
    if (parsed.auth !== undefined) {
      this.log.warn(
        options.auth === undefined
          ? 'the config repo URL contains credentials; they are used but belong in the credentials file'
          : 'the config repo URL contains credentials; they are ignored in favour of the credentials file',
      );
    }
    const auth = options.auth ?? parsed.auth;
    const secrets = deps.secrets ?? new SecretRegistry();
    if (auth?.password === '') secrets.add(auth.username);
    this.remote = new Remote({
      url: this.url,
      http: deps.http ?? nodeHttp,
      auth,
      timeoutMs: options.timeoutMs ?? 60_000,
      secrets,
    });
    this.stateDir = resolve(options.stateDir);
    this.gitdir = join(this.stateDir, 'repo.git');
    this.stateFile = join(this.stateDir, 'source.json');
    this.store = new CheckoutStore(this.stateDir);
  }

  /** The accepted revision and its checkout, if there is one on disk. */
  async current(): Promise<CurrentRevision | undefined> {
    const state = await readAcceptedState(this.stateFile);
    if (state === undefined || !(await this.store.has(state.revision))) return undefined;
    return { revision: state.revision, dir: this.store.dirOf(state.revision) };
  }

  /** Polls the remote and moves to its head if acceptable. Concurrent calls share one run. */
  sync(): Promise<SyncResult> {
    this.inflight ??= this.runSync().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async runSync(): Promise<SyncResult> {
    try {
      return await this.syncOnce();
    } catch (err) {
      if (isAgentError(err, 'SourceCorrupt')) {
        // The git dir is only a cache of the remote: drop it and clone afresh next time.
        await rm(this.gitdir, { recursive: true, force: true });
      }
      this.log.warn({ err }, 'sync failed; the last accepted revision stays in force');
      throw err;
    }
  }

  private async syncOnce(): Promise<SyncResult> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const state = await readAcceptedState(this.stateFile);
    const anchor = state?.url === this.url && state.branch === this.options.branch ? state : undefined;
    if (state !== undefined && anchor === undefined) {
      this.log.warn(
        { previous: { url: state.url, branch: state.branch, revision: state.revision } },
        'source changed; starting a new history',
      );
    }
    const started = performance.now();
    const head = await this.remote.headOf(this.options.branch);
    if (anchor?.revision === head && (await this.store.has(head))) {
      this.log.debug({ revision: head }, 'unchanged');
      return { changed: false, revision: head, dir: this.store.dirOf(head) };
    }

    const cache = {};
    const timings: Record<string, number> = { poll: performance.now() - started };
    const fresh = await this.prepareRepo();
    let candidate = head;
    if (fresh || !(await this.hasCommit(head, cache))) {
      // A fresh git dir next to an accepted revision needs full history to prove descent.
      const depth = fresh && anchor === undefined ? (this.options.cloneDepth ?? 1) : 0;
      const t = performance.now();
      candidate = await this.remote.fetch({
        fs: this.fs,
        gitdir: this.gitdir,
        branch: this.options.branch,
        cache,
        ...(depth > 0 ? { depth } : {}),
      });
      if (!(await this.hasCommit(candidate, cache))) {
        throw new AgentError('SourceCorrupt', `fetch from ${this.url} did not deliver commit ${candidate}`, {
          data: { url: this.url, commit: candidate },
        });
      }
      timings['fetch'] = performance.now() - t;
    }

    const signature = await this.checkSignature(candidate, cache);
    if (anchor !== undefined && candidate !== anchor.revision)
      await this.checkDescent(anchor.revision, candidate, cache);

    let t = performance.now();
    const dir = await this.localStep('checkout', () => this.store.materialize(this.fs, this.gitdir, candidate, cache));
    timings['checkout'] = performance.now() - t;
    if (anchor?.revision === candidate) {
      await this.store.activate(candidate);
      return { changed: false, revision: candidate, dir };
    }
    const accepted: AcceptedState = {
      version: 1,
      url: this.url,
      branch: this.options.branch,
      revision: candidate,
      acceptedAt: this.now().toISOString(),
      ...(signature === undefined ? {} : { signer: signature.signer }),
    };
    t = performance.now();
    await writeAcceptedState(this.stateFile, accepted);
    await this.store.activate(candidate);
    timings['switch'] = performance.now() - t;
    const removed = await this.store.prune([candidate, ...(state === undefined ? [] : [state.revision])]);
    timings['total'] = performance.now() - started;
    this.log.info(
      {
        revision: candidate,
        previous: state?.revision,
        signer: signature?.signer,
        key: signature?.key,
        pruned: removed.length,
        ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
      },
      'accepted new revision',
    );
    return { changed: true, revision: candidate, dir };
  }

  /** Creates the bare repo if needed; true when it was created (no history yet). */
  private async prepareRepo(): Promise<boolean> {
    const exists = await access(join(this.gitdir, 'HEAD')).then(
      () => true,
      () => false,
    );
    if (exists) {
      const url: unknown = await git
        .getConfig({ fs: this.fs, gitdir: this.gitdir, path: 'remote.origin.url' })
        .catch(() => undefined);
      if (url === this.url) return false;
      await rm(this.gitdir, { recursive: true, force: true });
    }
    await git.init({ fs: this.fs, gitdir: this.gitdir, bare: true, defaultBranch: this.options.branch });
    // Only the credential-free URL is ever written to .git/config.
    await git.addRemote({ fs: this.fs, gitdir: this.gitdir, remote: 'origin', url: this.url, force: true });
    return true;
  }

  private async hasCommit(oid: string, cache: object): Promise<boolean> {
    try {
      await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid, cache });
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') return false;
      throw this.corrupt('read', err);
    }
  }

  private async checkSignature(commit: string, cache: object): Promise<VerifiedSignature | undefined> {
    const signers = this.options.trustedSigners;
    if (signers === undefined) return undefined;
    this.verifier ??= SignatureVerifier.create(signers);
    const verifier = await this.verifier.catch((err: unknown) => {
      this.verifier = undefined;
      throw err;
    });
    const { object } = await this.localStep('read', () =>
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the one API that returns a commit's raw bytes, which signatures are checked over
      git.readObject({ fs: this.fs, gitdir: this.gitdir, oid: commit, format: 'content', cache }),
    );
    if (!(object instanceof Uint8Array)) throw this.corrupt('read', new Error('commit object is not raw bytes'));
    return verifier.verify(commit, object);
  }

  private async checkDescent(from: string, to: string, cache: object): Promise<void> {
    const descends = await this.localStep('ancestry', () =>
      git.isDescendent({ fs: this.fs, gitdir: this.gitdir, oid: to, ancestor: from, depth: -1, cache }),
    );
    if (descends) return;
    if (this.options.allowRewind === true) {
      this.log.warn({ from, to }, 'history rewind accepted (allowRewind)');
      return;
    }
    throw new AgentError(
      'HistoryRewind',
      `branch ${this.options.branch} moved from ${from} to ${to}, which does not descend from it (rewind or force-push)`,
      {
        terminal: true,
        data: { from, to },
      },
    );
  }

  /**
   * Runs a step on the local git dir. A file-system failure (disk full, permissions) is reported
   * as such; anything isomorphic-git rejects means the git dir is damaged.
   */
  private async localStep<T>(step: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      if (isAgentError(err)) throw err;
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
        throw new AgentError('SourceCheckoutFailed', `cannot write the checkout of ${this.url} (${step}): ${code}`, {
          data: { url: this.url, step, errorCode: code },
          cause: err,
        });
      }
      throw this.corrupt(step, err);
    }
  }

  private corrupt(step: string, err: unknown): AgentError {
    const reason = err instanceof Error ? err.message : String(err);
    return new AgentError(
      'SourceCorrupt',
      `local copy of ${this.url} is damaged (${step}): ${reason}; it is fetched again on the next sync`,
      {
        data: { url: this.url, step },
        cause: err,
      },
    );
  }
}
