import nodeFs from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import git from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { AgentError } from '../core/errors.ts';
import type { ReportedState } from '../core/reported-state.ts';
import type { SecretRegistry } from '../lib/secrets.ts';
import type { GitCredentials } from './credentials.ts';
import { toSourceError } from './remote.ts';
import { STATUS_FILE, statusRef } from './status-ref.ts';

type HttpClient = Parameters<typeof git.push>[0]['http'];

export interface StatusRefPushOptions {
  /** The config repo's URL (credential-free). */
  url: string;
  auth?: GitCredentials;
  /** A bare git dir of its own, where the status commits are made before the push. */
  gitdir: string;
  secrets: SecretRegistry;
  http?: HttpClient;
  timeoutMs?: number;
}

/**
 * Keeps `refs/appliances/<name>/status` in the config repo: each report is a new parentless
 * commit whose tree holds `status.json`, force-pushed over the last (the ref is a current
 * state, not a history). A refused push (no write access) is a `SourceAuthFailed` error.
 */
export function statusRefPusher(options: StatusRefPushOptions): { push(report: ReportedState): Promise<string> } {
  const fs = nodeFs;
  const { gitdir } = options;
  const http = options.http ?? nodeHttp;
  return {
    async push(report) {
      // Each push starts from an empty repo: the last report's objects are not needed again
      // (the new commit has no parent), so none pile up over the appliance's life.
      await rm(gitdir, { recursive: true, force: true });
      await mkdir(gitdir, { recursive: true, mode: 0o700 });
      await git.init({ fs, gitdir, bare: true });
      const ref = statusRef(report.appliance);
      const blob = await git.writeBlob({ fs, gitdir, blob: Buffer.from(`${JSON.stringify(report, null, 2)}\n`) });
      const tree = await git.writeTree({
        fs,
        gitdir,
        tree: [{ mode: '100644', path: STATUS_FILE, oid: blob, type: 'blob' }],
      });
      const who = {
        name: `appliance ${report.appliance}`,
        email: 'agent@appliance.invalid',
        timestamp: Math.floor(Date.parse(report.reportedAt) / 1000),
        timezoneOffset: 0,
      };
      const commit = await git.writeCommit({
        fs,
        gitdir,
        commit: { message: `status of ${report.appliance}\n`, tree, parent: [], author: who, committer: who },
      });
      await git.writeRef({ fs, gitdir, ref, value: commit, force: true });
      const auth = options.auth;
      const timeoutMs = options.timeoutMs ?? 30_000;
      const controller = new AbortController();
      const timer = setTimeout(() => {
        controller.abort();
      }, timeoutMs);
      try {
        const result = await git.push({
          fs,
          http: { request: (req) => http.request({ ...req, signal: controller.signal }) },
          gitdir,
          url: options.url,
          ref,
          remoteRef: ref,
          force: true,
          ...(auth === undefined
            ? {}
            : {
                headers: {
                  Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
                },
                onAuth: () => ({ username: auth.username, password: auth.password }),
                onAuthFailure: () => ({ cancel: true }),
              }),
        });
        const status = result.refs[ref];
        if (!result.ok || status?.ok !== true) {
          throw new AgentError(
            'StatusRefRefused',
            `${options.url} refused ${ref}: ${status?.error ?? result.error ?? 'unknown'}`,
            {
              data: { url: options.url, ref },
            },
          );
        }
        return commit;
      } catch (err) {
        throw toSourceError(err, 'push', options.url, timeoutMs, options.secrets);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
