import nodeFs from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { AgentError } from '../core/errors.ts';
import type { ReportedState } from '../core/reported-state.ts';
import type { RepoReader } from '../config/load.ts';
import { gitTreeReader } from './tree-reader.ts';
import { parseReportedState, STATUS_FILE, statusRef } from './status-ref.ts';

/** A local clone of the config repo, read at any commit (what `review` and `fleet status` read). */
export interface LocalRepo {
  gitdir: string;
  /** A full commit id for a ref name, a full or abbreviated id. */
  resolve(rev: string): Promise<string>;
  /** Whether the store has this commit (a reported revision may not be fetched). */
  has(oid: string): Promise<boolean>;
  readerAt(oid: string): RepoReader;
  /** The appliances that have a status ref. */
  reporting(): Promise<string[]>;
  /** The report in an appliance's status ref, with the ref's commit; undefined without one. */
  report(name: string): Promise<{ state: ReportedState; commit: string } | undefined>;
}

/** Opens a checkout (`DIR/.git`) or a bare repository. */
export async function openLocalRepo(dir: string): Promise<LocalRepo> {
  const gitdir = (await isDir(join(dir, '.git'))) ? join(dir, '.git') : dir;
  if (!(await isDir(join(gitdir, 'objects')))) {
    throw new AgentError('RepoDirMissing', `${dir}: not a git repository`, { terminal: true, data: { dir } });
  }
  const fs = nodeFs;
  const cache = {};
  const has = async (oid: string): Promise<boolean> => {
    try {
      await git.readCommit({ fs, gitdir, oid, cache });
      return true;
    } catch {
      return false;
    }
  };
  return {
    gitdir,
    async resolve(spec) {
      // `REV~N` and `REV^` (first parents), as CI systems pass `HEAD~1` or `main^`.
      const m = /^(.*?)((?:~\d*|\^)*)$/.exec(spec);
      const rev = m?.[1] ?? spec;
      let back = 0;
      for (const op of (m?.[2] ?? '').match(/~\d*|\^/g) ?? [])
        back += op === '^' || op === '~' ? 1 : Number(op.slice(1));
      let oid: string | undefined;
      try {
        oid = await git.resolveRef({ fs, gitdir, ref: rev });
      } catch {
        if (/^[0-9a-f]{4,40}$/i.test(rev))
          oid = await git.expandOid({ fs, gitdir, oid: rev.toLowerCase(), cache }).catch(() => undefined);
      }
      if (oid === undefined || !(await has(oid))) {
        throw new AgentError(
          'RevisionUnknown',
          `${rev}: no such commit in ${dir} (a ref name or a commit id, optionally with ~N or ^)`,
          {
            terminal: true,
            data: { rev },
          },
        );
      }
      let at: string = oid;
      for (let i = 0; i < back; i++) {
        const read = await git.readCommit({ fs, gitdir, oid: at, cache });
        const parent: string | undefined = read.commit.parent[0];
        if (parent === undefined) {
          throw new AgentError('RevisionUnknown', `${spec}: ${rev} has fewer than ${back} parents`, {
            terminal: true,
            data: { rev: spec },
          });
        }
        at = parent;
      }
      return at;
    },
    has,
    readerAt: (oid) => gitTreeReader({ fs, gitdir, commit: oid, cache }),
    async reporting() {
      const refs = await git.listRefs({ fs, gitdir, filepath: 'refs/appliances' }).catch(() => [] as string[]);
      return refs
        .flatMap((r) => {
          const m = /^([^/]+)\/status$/.exec(r);
          return m?.[1] === undefined ? [] : [m[1]];
        })
        .sort();
    },
    async report(name) {
      let commit: string;
      try {
        commit = await git.resolveRef({ fs, gitdir, ref: statusRef(name) });
      } catch {
        return undefined;
      }
      const text = await gitTreeReader({ fs, gitdir, commit, cache }).readFile(STATUS_FILE);
      const state = text === undefined ? undefined : parseReportedState(text);
      return state === undefined ? undefined : { state, commit };
    },
  };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
