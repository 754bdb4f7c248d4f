import { parseDocument } from 'yaml';
import { AgentError } from '../core/errors.ts';
import type { AppNeeds } from './app-needs.ts';
import { dkimTxtValue, generateSecret, generateToken, secretKindOf, type SecretKind } from './generate-secrets.ts';

/** Short names accepted by --regenerate. */
const ALIASES: Readonly<Record<string, string>> = {
  dkim: 'mail.dkim.private_key',
  'mail.dkim': 'mail.dkim.private_key',
  'first_user.password': 'first_user.transport_password',
};

/** Fixed env.yml paths that hold generated secrets, with their generators. */
const FIXED: Readonly<Record<string, SecretKind>> = {
  'mail.dkim.private_key': 'rsa',
  'backup.password': 'token',
  'first_user.transport_password': 'token',
};

/** What regenerating secrets in an env.yml did. */
export interface Regenerated {
  /** The new plaintext env.yml (comments and untouched values kept). */
  text: string;
  /** Dotted paths that got a new value, in the order asked. */
  paths: string[];
  /** The new values (to keep them off stdout). */
  secrets: string[];
  /** Set when the DKIM key changed: the new public TXT value to publish. */
  dkim?: { selector: string; txt: string; domain: string };
}

/**
 * Gives new values, made by the generators `config create` uses, to the secrets at `wanted`
 * (dotted env.yml paths or aliases such as `dkim`). Refuses paths that are not generated
 * secrets: `app.secrets.NAME` qualifies when the app references it (it may then be new) or when
 * its value has the shape of a generated one (a token, a PEM or OpenPGP private key).
 */
export async function regenerateSecrets(
  plaintext: string,
  wanted: readonly string[],
  context: { name: string; needs?: AppNeeds },
): Promise<Regenerated> {
  const doc = parseDocument(plaintext);
  if (doc.errors.length > 0)
    throw new AgentError('EnvUnreadable', 'the decrypted env.yml is not valid YAML', { terminal: true });
  const out: Regenerated = { text: plaintext, paths: [], secrets: [] };
  for (const raw of wanted) {
    const path = ALIASES[raw] ?? raw;
    if (out.paths.includes(path)) continue;
    const keys = path.split('.');
    const current = doc.getIn(keys);
    const kind = kindFor(path, typeof current === 'string' ? current : undefined, current !== undefined, context.needs);
    const value =
      kind === 'token' ? generateToken() : await generateSecret(kind, `${context.name} ${keys.at(-1) ?? ''}`);
    doc.setIn(keys, value);
    out.paths.push(path);
    out.secrets.push(value);
    if (path === 'mail.dkim.private_key') {
      const selector = doc.getIn(['mail', 'dkim', 'selector']);
      const domain = doc.get('domain');
      out.dkim = {
        selector: typeof selector === 'string' ? selector : 'default',
        txt: dkimTxtValue(value),
        domain: typeof domain === 'string' ? domain : '<domain>',
      };
    }
  }
  out.text = doc.toString({ lineWidth: 0 });
  return out;
}

function kindFor(path: string, value: string | undefined, present: boolean, needs: AppNeeds | undefined): SecretKind {
  const fixed = FIXED[path];
  if (fixed !== undefined) {
    if (!present) throw refuse(path, 'is not set in env.yml');
    return fixed;
  }
  const app = /^app\.secrets\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(path)?.[1];
  if (app === undefined)
    throw refuse(
      path,
      `is not a generated secret (regenerate ${[...Object.keys(FIXED), 'app.secrets.NAME'].join(', ')} or dkim)`,
    );
  const shaped = value === undefined ? undefined : secretKindOf(value);
  const referenced = needs?.secrets.get(app);
  if (present && value === undefined) throw refuse(path, 'is not a single text value');
  if (referenced !== undefined) return shaped ?? referenced;
  if (!present) throw refuse(path, 'is not set in env.yml and the app does not reference it');
  if (shaped === undefined) throw refuse(path, 'does not hold a generated secret (e.g. a URL or a given password)');
  return shaped;
}

function refuse(path: string, why: string): AgentError {
  return new AgentError('NotAGeneratedSecret', `--regenerate ${path}: ${why}`, { terminal: true, data: { path } });
}
