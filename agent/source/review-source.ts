import nodeFs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import git, { type HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import type { RepoReader } from '../config/load.ts';
import { storeCorrupt } from './local-stores.ts';
import { refPrefix, reviewHeads, type RemoteRef } from '../core/review-refs.ts';
import type { Logger } from '../lib/log.ts';
import { SecretRegistry } from '../lib/secrets.ts';
import type { GitCredentials } from './credentials.ts';
import { CommitSignatures } from './commit-signatures.ts';
import { openRemote, type Remote } from './remote.ts';
import type { TrustedSigner, VerifiedSignature } from './signatures.ts';
import { gitTreeReader, type GitFs } from './tree-reader.ts';

export interface ReviewSourceDeps {
  fs?: GitFs;
  http?: HttpClient;
  log: Logger;
  secrets?: SecretRegistry;
}

export interface ReviewSourceOptions {
  /** The config repo's URL, as for GitSource. */
  url: string;
  allowInsecureHttp?: boolean;
  auth?: GitCredentials;
  /** Holds `review.git`, the object store of fetched review heads (apart from the branch's). */
  stateDir: string;
  /** The branch's trust rules: when given (even empty), a head must be signed by one of these. */
  trustedSigners?: readonly TrustedSigner[];
  timeoutMs?: number;
  maxFileBytes?: number;
}

/**
 * The review refs of the config repo (pull and merge request heads, preflight/* branches): lists
 * those matching the patterns with one ref advertisement per prefix, fetches a head (one commit
 * deep) into its own store so the branch's store and its history checks are never touched, and
 * checks a head's signature by the same rules as the branch.
 */
export class ReviewSource {
  private readonly fs: GitFs;
  private readonly remote: Remote;
  private readonly gitdir: string;
  /** The URL without credentials, for errors. */
  private readonly url: string;
  private readonly cache: object = {};
  private readonly signatures: CommitSignatures;

  constructor(
    deps: ReviewSourceDeps,
    private readonly options: ReviewSourceOptions,
  ) {
    const opened = openRemote(options.url, { ...options, http: deps.http ?? nodeHttp, secrets: deps.secrets });
    this.url = opened.url;
    this.remote = opened.remote;
    this.signatures = new CommitSignatures(options.trustedSigners, this.url);
    this.fs = deps.fs ?? nodeFs;
    this.gitdir = join(resolve(options.stateDir), 'review.git');
  }

  /** The heads of the refs matching `patterns`, each commit once. */
  async list(patterns: readonly string[]): Promise<RemoteRef[]> {
    const prefixes = [...new Set(patterns.map(refPrefix))].sort();
    // A prefix inside another is covered by it: ask once.
    const asked = prefixes.filter((p) => !prefixes.some((q) => q !== p && p.startsWith(q)));
    const refs: RemoteRef[] = [];
    for (const prefix of asked) refs.push(...(await this.remote.listRefs(prefix)));
    return reviewHeads(patterns, refs);
  }

  /** Fetches `head` and returns a reader of its commit (the ref may have moved: `oid` says where to). */
  async fetch(head: RemoteRef): Promise<{ oid: string; reader: RepoReader }> {
    await mkdir(this.gitdir, { recursive: true, mode: 0o700 });
    let oid = head.oid;
    if (!(await this.has(oid))) {
      await git.init({ fs: this.fs, gitdir: this.gitdir, bare: true, defaultBranch: 'main' });
      // Where a fetched review ref is recorded locally (isomorphic-git needs a refspec for the remote).
      await git.setConfig({
        fs: this.fs,
        gitdir: this.gitdir,
        path: 'remote.review.fetch',
        value: '+refs/*:refs/remotes/review/*',
      });
      oid = await this.remote.fetchRef({
        fs: this.fs,
        gitdir: this.gitdir,
        remoteRef: head.ref,
        depth: 1,
        cache: this.cache,
      });
    }
    if (!(await this.has(oid))) {
      throw storeCorrupt(this.url, 'fetch', new Error(`the fetch of ${head.ref} did not deliver commit ${oid}`));
    }
    const reader = gitTreeReader({
      fs: this.fs,
      gitdir: this.gitdir,
      commit: oid,
      cache: this.cache,
      ...(this.options.maxFileBytes === undefined ? {} : { maxBytes: this.options.maxFileBytes }),
    });
    return { oid, reader };
  }

  /**
   * Checks the signature of a fetched head: the signer, or undefined when the branch takes
   * unsigned commits (no signers configured). Throws UnsignedCommit, UntrustedSigner or BadSignature.
   */
  verify(oid: string): Promise<VerifiedSignature | undefined> {
    return this.signatures.check(oid, async () => {
      // eslint-disable-next-line @typescript-eslint/no-deprecated -- the one API that returns a commit's raw bytes, which signatures are checked over
      const { object } = await git.readObject({
        fs: this.fs,
        gitdir: this.gitdir,
        oid,
        format: 'content',
        cache: this.cache,
      });
      return object;
    });
  }

  private async has(oid: string): Promise<boolean> {
    try {
      await git.readCommit({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
      return true;
    } catch {
      return false;
    }
  }
}
