import { AgentError, isAgentError } from '../core/errors.ts';
import { applianceFile, envFile } from '../config/load.ts';
import { parseYamlObject } from '../config/parse-yaml.ts';
import { dirRepoReader } from '../config/repo-dir.ts';
import { decryptSops, decryptSopsToText, rotateSops, updateSops } from '../sops/index.ts';
import { appNeeds, type AppNeeds } from './app-needs.ts';
import { regenerateSecrets } from './rotate-env.ts';
import { selectApp } from './select-app.ts';
import {
  applianceDropped,
  applianceRuleRegex,
  assertRecipients,
  matchRule,
  upsertApplianceRule,
} from './sops-rules.ts';

/** What to rotate in one appliance's env.yml. */
export interface RotateInput {
  repo: string;
  name: string;
  /** Age identities that can decrypt env.yml today. */
  identities: readonly string[];
  /** The new full set of operator recipients; undefined keeps today's. */
  recipients?: readonly string[];
  /** The appliance's own recipient; default: the first of its .sops.yaml rule. */
  applianceRecipient?: string;
  dropApplianceRecipient: boolean;
  /** Dotted env.yml paths (or aliases) of secrets to regenerate. */
  regenerate: readonly string[];
}

/** The rotated files, in memory, and what changed (never values, except in `secrets`). */
export interface RotatePlan {
  repoFiles: Map<string, string>;
  recipientsChanged: boolean;
  before: string[];
  after: string[];
  applianceRecipient?: string;
  regenerated: string[];
  /** New secret values (to keep them off stdout). */
  secrets: string[];
  dkim?: { selector: string; txt: string; domain: string };
  notes: string[];
}

/**
 * Re-encrypts an appliance's env.yml for a new recipient set (under a new data key) and/or gives
 * chosen secrets new values (keeping the data key and the ciphertext of everything else), and
 * updates its .sops.yaml rule. Writes nothing.
 */
export async function planRotation(input: RotateInput): Promise<RotatePlan> {
  const reader = dirRepoReader(input.repo);
  const file = envFile(input.name);
  const encrypted = await reader.readFile(file);
  if (encrypted === undefined)
    throw new AgentError('ApplianceMissing', `${file} does not exist`, { terminal: true, data: { file } });
  const sopsText = await reader.readFile('.sops.yaml');
  const opts = { file, identities: input.identities, format: 'yaml' as const };
  const { metadata } = await decryptSops(encrypted, opts);
  const before = metadata.recipients;
  const notes: string[] = [];

  const rule = matchRule(sopsText, file);
  const ownRule = rule?.pathRegex === applianceRuleRegex(input.name) && !applianceDropped(rule) ? rule : undefined;
  const applianceRecipient = input.applianceRecipient ?? ownRule?.recipients[0];
  if (applianceRecipient !== undefined && !before.includes(applianceRecipient))
    notes.push(`the appliance recipient ${applianceRecipient} could not decrypt env.yml before this rotation`);
  const operators = input.recipients ?? before.filter((r) => r !== applianceRecipient);
  assertRecipients([...operators, ...(applianceRecipient === undefined ? [] : [applianceRecipient])]);
  const needAppliance = input.dropApplianceRecipient ? input.recipients === undefined : input.recipients !== undefined;
  if (applianceRecipient === undefined && needAppliance)
    throw new AgentError(
      'ApplianceRecipientUnknown',
      `no .sops.yaml rule ${applianceRuleRegex(input.name)} names the appliance's recipient: pass --appliance-recipient`,
      { terminal: true },
    );
  const keep = input.dropApplianceRecipient || applianceRecipient === undefined ? [] : [applianceRecipient];
  const after = [...new Set([...keep, ...operators.filter((r) => r !== applianceRecipient)])];
  if (after.length === 0)
    throw new AgentError('NoRecipients', 'env.yml would have no recipient left: nobody could decrypt it', {
      terminal: true,
    });
  const recipientsChanged = after.length !== before.length || after.some((r) => !before.includes(r));
  if (!recipientsChanged && input.regenerate.length === 0)
    throw new AgentError(
      'NothingToRotate',
      'nothing to do: give a new recipient set (--recipient), --drop-appliance-recipient or --regenerate',
      { terminal: true },
    );

  let text = encrypted;
  let regenerated: Awaited<ReturnType<typeof regenerateSecrets>> | undefined;
  if (input.regenerate.length > 0) {
    const needs = await appNeedsOf(reader, input.name, notes);
    const plain = await decryptSopsToText(encrypted, opts);
    regenerated = await regenerateSecrets(plain, input.regenerate, {
      name: input.name,
      ...(needs === undefined ? {} : { needs }),
    });
    text = await updateSops(encrypted, regenerated.text, opts);
    if (
      needs?.databasePasswordSecret !== undefined &&
      regenerated.paths.includes(`app.secrets.${needs.databasePasswordSecret}`)
    )
      notes.push(
        `app.secrets.${needs.databasePasswordSecret} is the database password: PostgreSQL still has the old one. ` +
          'Change it there too (ALTER ROLE … PASSWORD) when the agent applies this commit, or the app cannot connect',
      );
    if (regenerated.dkim !== undefined)
      notes.push('the DKIM key changed: publish the new TXT record below before the agent applies this commit');
    if (regenerated.paths.includes('backup.password'))
      notes.push(
        'backup.password changed: the restic repository still opens with the old password only; add the new key (restic key add) first',
      );
  }
  if (recipientsChanged) text = await rotateSops(text, { ...opts, recipients: after });
  const removed = before.filter((r) => !after.includes(r));
  if (removed.length > 0)
    notes.push(
      `removed recipients can still decrypt the earlier env.yml in git history: regenerate the secrets they knew (--regenerate)`,
    );

  const repoFiles = new Map([[file, text]]);
  if (recipientsChanged) {
    const withAppliance = applianceRecipient !== undefined && after.includes(applianceRecipient);
    repoFiles.set('.sops.yaml', upsertApplianceRule(sopsText, input.name, after, { withAppliance }));
  }
  return {
    repoFiles,
    recipientsChanged,
    before,
    after,
    ...(applianceRecipient === undefined ? {} : { applianceRecipient }),
    regenerated: regenerated?.paths ?? [],
    secrets: regenerated?.secrets ?? [],
    ...(regenerated?.dkim === undefined ? {} : { dkim: regenerated.dkim }),
    notes,
  };
}

/** The commit message of a rotation: what changed, never a value. */
export function rotationMessage(name: string, plan: RotatePlan): string {
  const parts = [...(plan.recipientsChanged ? ['recipients'] : []), ...plan.regenerated];
  return `Rotate ${name}: ${parts.join(', ')}`;
}

async function appNeedsOf(
  reader: ReturnType<typeof dirRepoReader>,
  name: string,
  notes: string[],
): Promise<AppNeeds | undefined> {
  const file = applianceFile(name);
  const text = await reader.readFile(file);
  const parsed = text === undefined ? undefined : parseYamlObject(text, file);
  const appPath = parsed?.ok === true ? parsed.value['app'] : undefined;
  if (typeof appPath !== 'string') {
    notes.push(`${file} names no app: only secrets already in env.yml can be regenerated`);
    return undefined;
  }
  try {
    return appNeeds((await selectApp(reader, appPath)).definition);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    notes.push(`${appPath} could not be read (${err.code}): only secrets already in env.yml can be regenerated`);
    return undefined;
  }
}
