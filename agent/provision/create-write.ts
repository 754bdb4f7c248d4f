import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AgentError } from '../core/errors.ts';
import { writeFileAtomic } from '../lib/atomic-write.ts';
import { commitPaths, type CommitResult, type GitEnv } from './config-repo-git.ts';
import type { PreparedAppliance } from './create-prepare.ts';
import { buildRecoveryPdf, type ProgressFn } from './recovery-pdf.ts';
import { buildSeedIso } from './seed-iso.ts';
import { pathExists, readRegularFile } from '../lib/fs.ts';

/** The files `config create` writes to --out, in order. */
export const OUT_FILES = ['bootstrap.yml', 'age.key', 'seed.iso', 'recovery.pdf'] as const;

/** How to write a prepared appliance. */
export interface WriteOptions {
  repo: string;
  out: string;
  /** Commit the repository files (else only write them). */
  commit: boolean;
  /** The appliance existed before (--force): the commit says "Replace" instead of "Add". */
  replacing?: boolean;
  sign: boolean;
  env: GitEnv;
  /** A step starts (label), or the PDF advances (done/total). */
  onStep?: (label: string) => void;
  onProgress?: ProgressFn;
}

/** What was written. */
export interface WriteResult {
  outFiles: string[];
  repoFiles: string[];
  commit?: CommitResult & { message: string };
  pdf: { setId: string; codes: number; pages: number };
  /** The output directory already existed and others can read it. */
  outDirOpen: boolean;
}

/**
 * Writes a prepared appliance: first the private output (bootstrap.yml, age.key, seed.iso,
 * recovery.pdf, all 0600 in a 0700 directory), so the identity is never lost while the
 * repository already holds env.yml encrypted to it; then the repository files; then the commit.
 * A failed commit takes the repository files back to what they were.
 */
export async function writeAppliance(p: PreparedAppliance, o: WriteOptions): Promise<WriteResult> {
  const outDirOpen = await prepareOutDir(o.out);
  const path = (name: (typeof OUT_FILES)[number]): string => join(o.out, name);
  o.onStep?.('writing bootstrap.yml and age.key');
  await writeFileAtomic(path('bootstrap.yml'), p.outFiles.bootstrap, { mode: 0o600 });
  await writeFileAtomic(path('age.key'), p.outFiles.ageKey, { mode: 0o600 });
  o.onStep?.('building the seed ISO');
  await buildSeedIso({ userData: p.outFiles.userData, metaData: p.outFiles.metaData, out: path('seed.iso') });
  o.onStep?.('rendering the recovery PDF');
  const pdf = await buildRecoveryPdf({
    summary: {
      appliance: p.name,
      domain: p.domain,
      createdAt: p.createdAt,
      repoUrl: p.repoUrl,
      ageRecipients: [p.applianceRecipient, ...p.operatorRecipients],
      notes: [`Files: bootstrap.yml (agent config), age.key (appliance identity), env.yml (encrypted, as committed).`],
    },
    files: [
      { name: 'bootstrap.yml', data: Buffer.from(p.outFiles.bootstrap) },
      { name: 'age.key', data: Buffer.from(p.outFiles.ageKey) },
      { name: 'env.yml', data: Buffer.from(p.outFiles.envYml) },
    ],
    out: path('recovery.pdf'),
    ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }),
  });

  o.onStep?.('writing the config repository files');
  const undo = await writeRepoFiles(o.repo, p.repoFiles);
  const repoFiles = [...p.repoFiles.keys()];
  let commit: (CommitResult & { message: string }) | undefined;
  if (o.commit) {
    const message = `${o.replacing === true ? 'Replace' : 'Add'} appliance ${p.name}`;
    o.onStep?.(o.sign ? 'committing (signed)' : 'committing');
    try {
      const done = await commitPaths(o.repo, [`appliances/${p.name}`, '.sops.yaml'], message, {
        sign: o.sign,
        env: o.env,
      });
      commit = { ...done, message };
    } catch (err) {
      await undo();
      throw new AgentError(
        'CommitFailed',
        `git commit failed; the repository files were taken back (${o.out} keeps its files: rerun with --force)`,
        {
          terminal: true,
          cause: err,
          data: { repo: o.repo },
        },
      );
    }
  }
  return {
    outFiles: OUT_FILES.map((n) => path(n)),
    repoFiles,
    ...(commit === undefined ? {} : { commit }),
    pdf: { setId: pdf.setId, codes: pdf.codes, pages: pdf.pages },
    outDirOpen,
  };
}

/** Names of OUT_FILES that already exist in `out`. */
export async function existingOutFiles(out: string): Promise<string[]> {
  const found: string[] = [];
  for (const n of OUT_FILES) if (await pathExists(join(out, n))) found.push(n);
  return found;
}

/**
 * Writes repository files and returns a function that restores what was there before (content
 * or absence), for when the commit fails.
 */
export async function writeRepoFiles(repo: string, files: ReadonlyMap<string, string>): Promise<() => Promise<void>> {
  const before = new Map<string, string | undefined>();
  const createdDirs: string[] = [];
  for (const [rel, content] of files) {
    const full = join(repo, rel);
    before.set(full, await readRegularFile(full).catch(() => undefined));
    const dir = dirname(full);
    if (!(await pathExists(dir))) createdDirs.push(dir);
    await writeFileAtomic(full, content, { mode: 0o644 });
  }
  return async () => {
    for (const [full, content] of before)
      if (content === undefined) await rm(full, { force: true });
      else await writeFileAtomic(full, content, { mode: 0o644 });
    for (const dir of createdDirs.reverse()) await rm(dir, { recursive: true, force: true });
  };
}

async function prepareOutDir(out: string): Promise<boolean> {
  if (await pathExists(out)) {
    const st = await stat(out);
    if (!st.isDirectory()) throw new AgentError('OutNotADirectory', `${out} is not a directory`, { terminal: true });
    return (st.mode & 0o077) !== 0;
  }
  await mkdir(out, { recursive: true, mode: 0o700 });
  await chmod(out, 0o700);
  return false;
}
