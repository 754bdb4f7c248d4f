import type { JsonValue } from '../core/json.ts';
import { commandEntries } from '../config/app-rules.ts';
import { valueRefs } from '../config/refs.ts';
import type { AppDefinition } from '../core/config-types.gen.ts';
import type { SecretKind } from './generate-secrets.ts';

/** What an app definition reads from env.yml, as found in its references. */
export interface AppNeeds {
  /** `secrets.NAME` references, with the kind of secret to generate for each. */
  secrets: Map<string, SecretKind>;
  /** `settings.NAME` references: values only the operator can give. */
  settings: Set<string>;
  /** `env.a.b` references, as the dotted path after `env.`. */
  env: Set<string>;
  /** The secret that is the database password (`database.password_from`), if any. */
  databasePasswordSecret?: string;
}

/**
 * Collects every reference of the app (service environments, secret files, command
 * environments, the database password). A secret mounted as a file named *.asc/*.gpg/*.pgp is
 * an OpenPGP key and one named *.pem/*.key an RSA key; everything else is a random token.
 */
export function appNeeds(app: AppDefinition): AppNeeds {
  const needs: AppNeeds = { secrets: new Map(), settings: new Set(), env: new Set() };
  const add = (ref: string, kind: SecretKind = 'token'): void => {
    const [head, ...rest] = ref.split('.');
    const name = rest.join('.');
    if (head === 'secrets') {
      if (needs.secrets.get(name) === undefined || kind !== 'token') needs.secrets.set(name, kind);
    } else if (head === 'settings') needs.settings.add(name);
    else if (head === 'env') needs.env.add(name);
  };
  const addEnvironment = (env: Record<string, JsonValue>): void => {
    for (const v of Object.values(env)) for (const ref of valueRefs(v).refs) add(ref);
  };
  for (const svc of Object.values(app.services)) {
    addEnvironment(svc.environment as Record<string, JsonValue>);
    for (const f of svc.secret_files) add(f.from, fileKind(f.target));
  }
  for (const [, cmd] of commandEntries(app)) addEnvironment(cmd.environment as Record<string, JsonValue>);
  if (app.database !== undefined) {
    add(app.database.password_from);
    const [head, name] = app.database.password_from.split('.');
    if (head === 'secrets' && name !== undefined) needs.databasePasswordSecret = name;
  }
  return needs;
}

function fileKind(target: string): SecretKind {
  if (/\.(asc|gpg|pgp)$/i.test(target)) return 'openpgp';
  if (/\.(pem|key)$/i.test(target)) return 'rsa';
  return 'token';
}
