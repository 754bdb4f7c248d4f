import nodeFs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git, { type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { AgentError, isAgentError } from '../core/errors.ts';
import type { RepoReader } from '../config/load.ts';
import type { Logger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import { readAcceptedState, writeAcceptedState, type AcceptedState } from './accepted-state.ts';
import type { GitCredentials } from './credentials.ts';
import { openRemote, type Remote } from './remote.ts';
import type { TrustedSigner, VerifiedSignature } from './signatures.ts';
import { CommitSignatures } from './commit-signatures.ts';
import { compactPacks } from './compact-packs.ts';
import { LocalStores, storeCorrupt, type Store } from './local-stores.ts';
import { gitTreeReader, type GitFs } from './tree-reader.ts';

export type { GitFs } from './tree-reader.ts';

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
  /** https URL (http only to loopback, or with `allowInsecureHttp`); userinfo in it is stripped and used as credentials when `auth` is not given. */
  url: string;
  /** Accept http:// to a host that is not loopback, credentials in clear (closed test networks). */
  allowInsecureHttp?: boolean;
  branch: string;
  /** Holds `repo.git` (the object store), `source.json` (the accepted revision) and `repo.git.new` while the store is replaced. */
  stateDir: string;
  auth?: GitCredentials;
  /** When given (even empty), only a head commit signed by one of these is accepted. */
  trustedSigners?: readonly TrustedSigner[];
  /** Accept a head that does not descend from the last accepted revision. */
  allowRewind?: boolean;
  /**
   * A commit the first accepted head must be or descend from, so a first clone cannot be fed an
   * old signed commit. The first clone then fetches the whole history to prove it.
   */
  minRevision?: string;
  /** Deadline for one network operation in ms (default 60 000). */
  timeoutMs?: number;
  /** History depth of the first clone (default 1; 0 = full history). Later fetches are incremental. */
  cloneDepth?: number;
  /** Largest file the readers return (default 1 MiB). */
  maxFileBytes?: number;
  /** On its first sync, the source merges `repo.git`'s packs into one when it has this many (default 20). */
  compactAtPacks?: number;
}

/** Outcome of a sync: the revision in force and a reader of exactly that revision. */
export interface SyncResult {
  changed: boolean;
  revision: string;
  reader: RepoReader;
}

/** The revision in force and a reader of it. */
export interface CurrentRevision {
  revision: string;
  reader: RepoReader;
}

/**
 * The config repository as the agent sees it: polls the branch head with one ref advertisement,
 * fetches only when it moved, accepts the new head only if it is signed by a trusted key (when
 * configured) and descends from the last accepted revision (unless `allowRewind`), and records
 * it in `source.json`. Files are read straight from the object store at the accepted commit; no
 * work tree is written. Any refusal or failure leaves the last accepted revision in force, and
 * its objects stay in the local store (see {@link LocalStores}).
 */
export class GitSource {
  private readonly fs: GitFs;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly remote: Remote;
  private readonly url: string;
  private readonly stateDir: string;
  private readonly stateFile: string;
  private readonly stores: LocalStores;
  /** Store → commit, for readers that found the store damaged; the next sync replaces it. */
  private readonly distrusted = new Map<string, string>();
  private compacted = false;
  private readonly signatures: CommitSignatures;
  private inflight: Promise<SyncResult> | undefined;

  constructor(
    deps: GitSourceDeps,
    private readonly options: GitSourceOptions,
  ) {
    const opened = openRemote(options.url, { ...options, http: deps.http ?? nodeHttp, secrets: deps.secrets });
    this.url = opened.url;
    this.remote = opened.remote;
    this.signatures = new CommitSignatures(options.trustedSigners, this.url);
    this.fs = deps.fs ?? nodeFs;
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log.child({ component: 'source', url: this.url, branch: options.branch });
    if (opened.urlHadAuth) {
      this.log.warn(
        options.auth === undefined
          ? 'the config repo URL contains credentials; they are used but belong in the credentials file'
          : 'the config repo URL contains credentials; they are ignored in favour of the credentials file',
      );
    }
    this.stateDir = resolve(options.stateDir);
    this.stateFile = join(this.stateDir, 'source.json');
    this.stores = new LocalStores(this.stateDir, this.fs, this.url, options.branch);
  }

  /** The accepted revision and a reader of it; undefined when none is accepted or its commit is gone. */
  async current(): Promise<CurrentRevision | undefined> {
    const state = await readAcceptedState(this.stateFile);
    if (state === undefined) return undefined;
    const gitdir = await this.stores.locate(state.revision);
    return gitdir === undefined ? undefined : { revision: state.revision, reader: this.reader(gitdir, state.revision) };
  }

  /**
   * A reader of an earlier accepted revision (the last applied one, after a restart on a
   * stalled head); undefined when no local store holds it any more.
   */
  async at(revision: string): Promise<CurrentRevision | undefined> {
    const gitdir = await this.stores.locate(revision);
    return gitdir === undefined ? undefined : { revision, reader: this.reader(gitdir, revision) };
  }

  /** Polls the remote and moves to its head if acceptable. Concurrent calls share one run. */
  sync(): Promise<SyncResult> {
    this.inflight ??= this.syncOnce()
      .catch((err: unknown) => {
        this.log.warn({ err }, 'sync failed; the last accepted revision stays in force');
        throw err;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private async syncOnce(): Promise<SyncResult> {
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    if (!this.compacted) {
      this.compacted = true;
      await this.compact();
    }
    const state = await readAcceptedState(this.stateFile);
    const anchor = state?.url === this.url && state.branch === this.options.branch ? state : undefined;
    if (state !== undefined && anchor === undefined) {
      this.log.warn(
        { previous: { url: state.url, branch: state.branch, revision: state.revision } },
        'source changed; starting a new history',
      );
    }
    for (const [gitdir, commit] of this.distrusted) {
      // Only the accepted revision counts: a reader of an older one may have outlived a store replacement.
      if (commit === state?.revision) await this.stores.distrust(gitdir, state);
    }
    this.distrusted.clear();

    const started = performance.now();
    const timings: Record<string, number> = {};
    const { main, replacement } = this.stores;
    const pending = await this.stores.pending();
    let head: string | undefined;
    if (await this.stores.exists(pending ? replacement : main)) {
      head = await this.remote.headOf(this.options.branch);
      timings['poll'] = performance.now() - started;
      if (!pending && anchor?.revision === head && (await this.stores.holds(main, head))) {
        this.log.debug({ revision: head }, 'unchanged');
        return { changed: false, revision: head, reader: this.reader(main, head) };
      }
    }
    // Without a store there is nothing to compare with: the fetch's own ref advertisement is the poll.
    const store = await this.stores.open(state);
    // Proving descent from an accepted revision needs the history in between; without one, the head is enough.
    const minimum = anchor === undefined ? this.options.minRevision : undefined;
    const depth = anchor === undefined && minimum === undefined ? (this.options.cloneDepth ?? 1) : 0;
    try {
      let candidate = head;
      if (candidate === undefined || store.fresh || !(await this.stores.hasCommit(store.gitdir, candidate))) {
        candidate = await this.fetch(store, depth, timings);
      }

      let t = performance.now();
      const signature = await this.checkSignature(store.gitdir, candidate);
      if (anchor !== undefined && candidate !== anchor.revision)
        await this.checkDescent(store.gitdir, anchor.revision, candidate);
      if (minimum !== undefined && candidate !== minimum) await this.checkMinimum(store.gitdir, minimum, candidate);
      timings['verify'] = performance.now() - t;

      t = performance.now();
      const changed = anchor?.revision !== candidate;
      if (changed) {
        const accepted: AcceptedState = {
          version: 1,
          url: this.url,
          branch: this.options.branch,
          revision: candidate,
          acceptedAt: this.now().toISOString(),
          ...(signature === undefined ? {} : { signer: signature.signer }),
        };
        await writeAcceptedState(this.stateFile, accepted);
      }
      // After the state: a crash in between leaves the accepted commit in repo.git.new, where current() finds it.
      const gitdir = store.replacing ? await this.stores.adoptReplacement() : store.gitdir;
      timings['switch'] = performance.now() - t;
      timings['total'] = performance.now() - started;
      this.log.info(
        {
          revision: candidate,
          previous: state?.revision,
          signer: signature?.signer,
          key: signature?.key,
          replacedStore: store.replacing,
          ms: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
        },
        changed ? 'accepted new revision' : 'revision confirmed',
      );
      return { changed, revision: candidate, reader: this.reader(gitdir, candidate) };
    } catch (err) {
      if (isAgentError(err, 'SourceCorrupt')) await this.stores.distrust(store.gitdir, state);
      throw err;
    }
  }

  /**
   * Merges the packs of `repo.git` (one per fetch) into one. Only on the first sync: no reader
   * of this source exists yet, so none can be left pointing at a pack that is gone. A failure
   * leaves the store as it was, or with its objects twice.
   */
  private async compact(): Promise<void> {
    const { main } = this.stores;
    if ((await this.stores.pending()) || !(await this.stores.exists(main))) return;
    try {
      const result = await compactPacks(this.fs, main, this.options.compactAtPacks ?? 20);
      if (result.packs === 0) return;
      this.stores.cache = {};
      this.log.info({ packs: result.packs, objects: result.objects }, "merged the local store's packs into one");
    } catch (err) {
      this.log.warn({ err }, "could not merge the local store's packs; it stays as it is");
    }
  }

  /** Fetches the branch into `store` and returns the fetched head, which must then be present. */
  private async fetch(store: Store, depth: number, timings: Record<string, number>): Promise<string> {
    const t = performance.now();
    const head = await this.remote.fetch({
      fs: this.fs,
      gitdir: store.gitdir,
      branch: this.options.branch,
      cache: this.stores.cache,
      ...(depth > 0 ? { depth } : {}),
    });
    if (!(await this.stores.hasCommit(store.gitdir, head))) {
      throw new AgentError('SourceCorrupt', `fetch from ${this.url} did not deliver commit ${head}`, {
        data: { url: this.url, commit: head },
      });
    }
    timings['fetch'] = performance.now() - t;
    return head;
  }

  private reader(gitdir: string, commit: string): RepoReader {
    // Made on the first read: most polls find the revision unchanged and read nothing.
    let tree: RepoReader | undefined;
    const reader = (): RepoReader =>
      (tree ??= gitTreeReader({
        fs: this.fs,
        gitdir,
        commit,
        cache: this.stores.cache,
        ...(this.options.maxFileBytes === undefined ? {} : { maxBytes: this.options.maxFileBytes }),
      }));
    // A read that finds the store damaged has the next sync replace it.
    const watch = async <T>(read: Promise<T>): Promise<T> => {
      try {
        return await read;
      } catch (err) {
        if (isAgentError(err, 'SourceCorrupt')) this.distrusted.set(gitdir, commit);
        throw err;
      }
    };
    return { readFile: (rel) => watch(reader().readFile(rel)), listDir: (rel) => watch(reader().listDir(rel)) };
  }

  private checkSignature(gitdir: string, commit: string): Promise<VerifiedSignature | undefined> {
    return this.signatures.check(commit, async () => {
      const { object } = await this.localStep('read', () =>
        // eslint-disable-next-line @typescript-eslint/no-deprecated -- the one API that returns a commit's raw bytes, which signatures are checked over
        git.readObject({ fs: this.fs, gitdir, oid: commit, format: 'content', cache: this.stores.cache }),
      );
      return object;
    });
  }

  private async checkDescent(gitdir: string, from: string, to: string): Promise<void> {
    const descends = await this.localStep('ancestry', () =>
      git.isDescendent({ fs: this.fs, gitdir, oid: to, ancestor: from, depth: -1, cache: this.stores.cache }),
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

  /** Refuses a first head that is not `minimum` or a descendant of it (an old commit replayed). */
  private async checkMinimum(gitdir: string, minimum: string, head: string): Promise<void> {
    const descends = await this.localStep('ancestry', () =>
      git.isDescendent({ fs: this.fs, gitdir, oid: head, ancestor: minimum, depth: -1, cache: this.stores.cache }),
    );
    if (descends) return;
    throw new AgentError(
      'RevisionBelowMinimum',
      `branch ${this.options.branch} is at ${head}, which does not descend from the minimum revision ${minimum} (trust.min_revision): an old commit may be replayed`,
      { terminal: true, data: { head, minimum } },
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
        throw new AgentError('SourceStoreFailed', `cannot use the local copy of ${this.url} (${step}): ${code}`, {
          data: { url: this.url, step, errorCode: code },
          cause: err,
        });
      }
      throw storeCorrupt(this.url, step, err);
    }
  }
}
