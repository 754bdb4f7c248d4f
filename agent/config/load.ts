import { isAgentError } from '../core/errors.ts';
import type { DesiredState } from '../core/desired.ts';
import type { JsonObject, JsonValue } from '../core/json.ts';
import { type ConfigIssue, type ConfigResult } from '../core/result.ts';
import { checkApp } from './app-rules.ts';
import { checkCombination } from './combined-rules.ts';
import { DEFAULT_MAX_BYTES, parseYamlObject } from './parse-yaml.ts';
import { resolveDesired } from './resolve.ts';
import { SCHEMAS, validateDocument, validateEncryptedEnv } from './schemas.ts';
import { collectSecretPaths } from './schema-walk.ts';
import { checkAppliance, checkEnv } from './site-rules.ts';
import { checkSopsShape } from './sops-shape.ts';
import type { AppDefinition, ApplianceConfig, EnvConfig } from '../core/config-types.gen.ts';

/**
 * Where the loader reads repository files from: a directory, a git tree, a test fixture. Both
 * real readers refuse the same things with the same codes: `PathEscape` (a path or symlink
 * leading out of the repository), `FileTooLarge`.
 */
export interface RepoReader {
  /** Text of a repository-relative file, or undefined when it does not exist. */
  readFile(rel: string): Promise<string | undefined>;
  /** Entry names of a repository-relative directory; empty when it does not exist. */
  listDir(rel: string): Promise<string[]>;
}

/** Decrypts a SOPS env.yml (text as in the repository) into its plain tree. */
export type DecryptEnv = (text: string, file: string) => Promise<JsonObject>;

/** Repository layout. */
export const applianceFile = (name: string): string => `appliances/${name}/appliance.yml`;
export const envFile = (name: string): string => `appliances/${name}/env.yml`;

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const APP_PATH = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._/-]+\.ya?ml$/;

/** Shared state of one load or validation run: app files are read and checked once. */
export interface LoadContext {
  repo: RepoReader;
  decrypt?: DecryptEnv;
  maxBytes: number;
  apps: Map<string, Promise<FileOutcome<AppDefinition>>>;
}

/** A file's typed document (when valid) and what was found in it. */
export interface FileOutcome<T> {
  value?: T;
  /** appliance.yml only: its `app` path, read even when the file has errors. */
  appPath?: string;
  /** The file does not exist (reported by whoever referenced it). */
  missing?: boolean;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}

/** Everything found for one appliance; `state` only when decrypted and error-free. */
export interface ApplianceOutcome {
  name: string;
  decrypted: boolean;
  files: string[];
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
  state?: DesiredState;
  /**
   * The valid documents, set when appliance.yml and the app passed their checks (also without a
   * key): `envTree` is then env.yml's tree, decrypted or with ENC[…] values (review reads it).
   */
  documents?: { app: AppDefinition; appliance: ApplianceConfig; envTree: JsonValue };
}

/** Creates a context for `loadAppliance`; share one across appliances to check each app once. */
export function createContext(
  repo: RepoReader,
  options: { decrypt?: DecryptEnv; maxBytes?: number } = {},
): LoadContext {
  return {
    repo,
    ...(options.decrypt === undefined ? {} : { decrypt: options.decrypt }),
    maxBytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    apps: new Map(),
  };
}

/**
 * Reads, decrypts, parses, validates and resolves one appliance at one revision into its
 * DesiredState. Bad config never throws: every problem of every file comes back in `errors`.
 * Throws only for I/O failures of the reader that are not AgentErrors.
 */
export async function loadDesired(
  repo: RepoReader,
  name: string,
  options: { decrypt: DecryptEnv; revision: string; maxBytes?: number },
): Promise<ConfigResult<DesiredState>> {
  const outcome = await loadAppliance(createContext(repo, options), name, options.revision);
  if (outcome.state === undefined || outcome.errors.length > 0) return { ok: false, errors: outcome.errors };
  return { ok: true, value: outcome.state, warnings: outcome.warnings };
}

/** Checks one appliance's files and, with a decrypt function, resolves its DesiredState. */
export async function loadAppliance(ctx: LoadContext, name: string, revision: string): Promise<ApplianceOutcome> {
  const aFile = applianceFile(name);
  const eFile = envFile(name);
  const out: ApplianceOutcome = { name, decrypted: ctx.decrypt !== undefined, files: [], errors: [], warnings: [] };
  if (!NAME.test(name)) {
    out.errors.push({
      file: `appliances/${name}`,
      path: '',
      message: 'appliance names are lower-case letters, digits and -',
    });
    return out;
  }
  const appliance = await loadDocument(ctx, aFile, 'appliance', (v, f) => checkAppliance(v, f));
  const env = await loadEnv(ctx, eFile);
  out.files.push(aFile, eFile);
  merge(out, appliance, env);

  let app: FileOutcome<AppDefinition> | undefined;
  // Even when appliance.yml has errors, its app file is checked too if it can be named.
  const appFile = appliance.value?.app ?? appliance.appPath;
  if (appFile !== undefined) {
    let pending = ctx.apps.get(appFile);
    if (pending === undefined) {
      pending = loadDocument(ctx, appFile, 'app', (v, f) => checkApp(v, f));
      ctx.apps.set(appFile, pending);
    }
    app = await pending;
    if (app.missing === true) out.errors.push({ file: aFile, path: '/app', message: `${appFile} does not exist` });
    else out.files.push(appFile);
    merge(out, app);
  }
  if (appliance.value === undefined || app?.value === undefined || env.tree === undefined) return out;
  if (out.errors.length > 0) return out;
  out.documents = { app: app.value, appliance: appliance.value, envTree: env.tree };

  const combined = checkCombination({
    app: app.value,
    appFile: appliance.value.app,
    appliance: appliance.value,
    applianceFile: aFile,
    envTree: env.tree,
    ...(env.value === undefined ? {} : { env: env.value }),
    envFile: eFile,
  });
  merge(out, combined);
  if (out.errors.length > 0 || env.value === undefined) return out;
  out.state = resolveDesired({
    name,
    revision,
    appFile: appliance.value.app,
    app: app.value,
    appliance: appliance.value,
    env: env.value,
    secretPaths: env.secretPaths ?? [],
  });
  return out;
}

type Kind = 'app' | 'appliance';
type KindType<K extends Kind> = K extends 'app' ? AppDefinition : ApplianceConfig;

async function loadDocument<K extends Kind>(
  ctx: LoadContext,
  file: string,
  kind: K,
  rules: (value: KindType<K>, file: string) => { errors: ConfigIssue[]; warnings: ConfigIssue[] },
): Promise<FileOutcome<KindType<K>>> {
  const text = await read(ctx, file);
  if (text === undefined) {
    if (kind === 'app') return { errors: [], warnings: [], missing: true };
    return { errors: [{ file, path: '', message: `${file} does not exist` }], warnings: [] };
  }
  if (typeof text !== 'string') return { errors: [text], warnings: [] };
  const parsed = parseYamlObject(text, file, { maxBytes: ctx.maxBytes });
  if (!parsed.ok) return { errors: parsed.errors, warnings: [] };
  const named = parsed.value['app'];
  const appPath = kind === 'appliance' && typeof named === 'string' && APP_PATH.test(named) ? { appPath: named } : {};
  const valid = validateDocument(kind, parsed.value, file);
  if (!valid.ok) return { errors: valid.errors, warnings: [], ...appPath };
  const value = valid.value as KindType<K>;
  const found = rules(value, file);
  return found.errors.length > 0 ? { ...found, ...appPath } : { value, ...found };
}

interface EnvOutcome extends FileOutcome<EnvConfig> {
  /** The tree references are checked against: decrypted, or encrypted with readable keys. */
  tree?: JsonValue;
  secretPaths?: string[];
}

async function loadEnv(ctx: LoadContext, file: string): Promise<EnvOutcome> {
  const text = await read(ctx, file);
  if (typeof text !== 'string')
    return { errors: [text ?? { file, path: '', message: `${file} does not exist` }], warnings: [] };
  const parsed = parseYamlObject(text, file, { maxBytes: ctx.maxBytes });
  if (!parsed.ok) return { errors: parsed.errors, warnings: [] };
  if (ctx.decrypt === undefined) {
    const shape = checkSopsShape(parsed.value, file);
    const issues = [...shape.issues, ...validateEncryptedEnv(shape.tree, file)];
    return issues.length > 0 ? { errors: issues, warnings: [] } : { tree: shape.tree, errors: [], warnings: [] };
  }
  let plain: JsonObject;
  try {
    plain = await ctx.decrypt(text, file);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    // A seed whose identity env.yml is not encrypted for: say what fixes it.
    const hint =
      err.code === 'SopsNoIdentity'
        ? "; encrypt env.yml for the appliance's key too (appliance config rotate --recipient <its key>) or boot it with the seed made for this env.yml"
        : '';
    return {
      errors: [{ file, path: '', message: `cannot decrypt (${err.code}): ${err.message}${hint}` }],
      warnings: [],
    };
  }
  const { sops: _metadata, ...tree } = plain;
  if (JSON.stringify(tree).length > ctx.maxBytes) {
    return {
      errors: [{ file, path: '', message: `decrypted content is larger than the limit of ${ctx.maxBytes} bytes` }],
      warnings: [],
    };
  }
  const valid = validateDocument('env', tree, file);
  if (!valid.ok) return { errors: valid.errors, warnings: [] };
  const found = checkEnv(valid.value, file);
  if (found.errors.length > 0) return found;
  const value = valid.value as unknown as JsonObject;
  return { value: valid.value, tree: value, secretPaths: collectSecretPaths(SCHEMAS.env, value), ...found };
}

/** File text; an issue when the reader refused it (AgentError); undefined when missing. */
async function read(ctx: LoadContext, file: string): Promise<string | ConfigIssue | undefined> {
  try {
    return await ctx.repo.readFile(file);
  } catch (err) {
    if (!isAgentError(err)) throw err;
    return { file, path: '', message: err.message };
  }
}

function merge(
  out: { errors: ConfigIssue[]; warnings: ConfigIssue[] },
  ...from: { errors: ConfigIssue[]; warnings: ConfigIssue[] }[]
): void {
  for (const f of from) {
    out.errors.push(...f.errors);
    out.warnings.push(...f.warnings);
  }
}
