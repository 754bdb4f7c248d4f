import { createInterface } from 'node:readline/promises';
import { AgentError } from '../core/errors.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { originUrl } from '../provision/config-repo-git.ts';
import { listApps } from '../provision/select-app.ts';
import type { CliIo } from './io.ts';

/** The choices `config create` cannot make by itself, answered by flags or, on a terminal, by the user. */
export interface CreateChoices {
  repoUrl: string;
  app?: string;
  /** A public key file whose signed commits apply, when none was passed or found in git. */
  signerFile?: string;
}

interface Missing {
  flag: string;
  why: string;
  /** What the user picks from, when there is a list. */
  options?: string[];
}

/**
 * Works out the repository URL and the app before anything is generated. What is still open is
 * asked for on a terminal; otherwise the command stops with one line naming every flag needed.
 */
export async function resolveChoices(
  repo: string,
  given: { repoUrl?: string; app?: string; needSigner?: boolean },
  io: CliIo,
  interactive: boolean,
): Promise<CreateChoices> {
  const missing: Missing[] = [];
  let repoUrl = given.repoUrl;
  if (repoUrl === undefined) {
    const origin = await originUrl(repo, io.env);
    if (origin !== undefined && /^https?:\/\//i.test(origin)) repoUrl = origin;
    else
      missing.push({
        flag: '--repo-url <url>',
        why:
          origin === undefined
            ? 'the repository has no remote.origin.url'
            : 'remote.origin.url is not an http(s) URL (the agent fetches over smart HTTP)',
      });
  }
  let app = given.app;
  let signerFile: string | undefined;
  if (app === undefined) {
    const apps = await listApps(dirRepoReader(repo));
    if (apps.length === 1) app = apps[0];
    else if (apps.length > 1)
      missing.push({ flag: '--app <path>', why: 'the repository has several apps', options: apps });
  }
  if (given.needSigner === true)
    missing.push({ flag: '--trusted-signer-file <file>', why: 'git has no signing key (user.signingkey) to trust' });
  if (missing.length > 0 && !interactive) {
    const text = missing.map((m) => `${m.flag} (${m.why}${m.options ? `: ${m.options.join(', ')}` : ''})`);
    const list = text.length > 1 ? `${text.slice(0, -1).join(', ')} and ${text.at(-1) ?? ''}` : text.join('');
    throw new AgentError('ChoicesMissing', `pass ${list}`, { terminal: true });
  }
  if (missing.length > 0) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      for (const m of missing) {
        const answer = await ask(rl, m);
        if (m.flag.startsWith('--repo-url')) repoUrl = answer;
        else if (m.flag.startsWith('--app')) app = answer;
        else signerFile = answer;
      }
    } finally {
      rl.close();
    }
  }
  return {
    repoUrl: repoUrl ?? '',
    ...(app === undefined ? {} : { app }),
    ...(signerFile === undefined ? {} : { signerFile }),
  };
}

async function ask(rl: ReturnType<typeof createInterface>, m: Missing): Promise<string> {
  if (m.options !== undefined) {
    const list = m.options.map((o, i) => `  ${i + 1}) ${o}`).join('\n');
    for (;;) {
      const answer = (await rl.question(`${m.why}; which one?\n${list}\nnumber: `)).trim();
      const picked = m.options[Number(answer) - 1];
      if (picked !== undefined) return picked;
    }
  }
  if (m.flag.startsWith('--trusted-signer-file')) {
    for (;;) {
      const answer = (await rl.question(`${m.why}; an OpenPGP or SSH public key file whose commits apply: `)).trim();
      if (answer !== '') return answer;
    }
  }
  for (;;) {
    const answer = (await rl.question(`${m.why}; the http(s) URL the appliance clones from: `)).trim();
    if (/^https?:\/\/\S+$/i.test(answer)) return answer;
  }
}
