import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import appSchema from '../../schema/app.schema.json' with { type: 'json' };
import applianceSchema from '../../schema/appliance.schema.json' with { type: 'json' };
import bootstrapSchema from '../../schema/bootstrap.schema.json' with { type: 'json' };
import envSchema from '../../schema/env.schema.json' with { type: 'json' };
import type { JsonObject, JsonValue } from '../core/json.ts';
import { ok, type ConfigIssue, type ConfigResult } from '../core/result.ts';
import { ajvErrorsToIssues } from './ajv-issues.ts';
import { relaxLeaves } from './relax-schema.ts';
import { orderLikeSchema } from './schema-walk.ts';
import type { AppDefinition, ApplianceConfig, BootstrapConfig, EnvConfig } from '../core/config-types.gen.ts';

/** The schemas in schema/, by the kind of file they describe. */
export const SCHEMAS = {
  app: appSchema as unknown as JsonObject,
  appliance: applianceSchema as unknown as JsonObject,
  bootstrap: bootstrapSchema as unknown as JsonObject,
  env: envSchema as unknown as JsonObject,
} as const;

/** Which schema: also the type a valid document has. */
export interface SchemaTypes {
  app: AppDefinition;
  appliance: ApplianceConfig;
  bootstrap: BootstrapConfig;
  env: EnvConfig;
}
export type SchemaName = keyof SchemaTypes;

/** Annotation keywords of our schemas: `x-secret` marks secret values, `x-expected` words errors. */
const ANNOTATIONS = [
  { keyword: 'x-secret', schemaType: 'boolean' },
  { keyword: 'x-expected', schemaType: 'string' },
] as const;

interface Validators {
  full: Record<SchemaName, ValidateFunction>;
  encryptedEnv: ValidateFunction;
}

let compiled: Validators | undefined;

function validators(): Validators {
  if (compiled !== undefined) return compiled;
  const make = (useDefaults: boolean): Ajv2020 => {
    const ajv = new Ajv2020({ allErrors: true, useDefaults, verbose: true, allowUnionTypes: true, strict: true });
    addFormatsModule.default(ajv);
    for (const k of ANNOTATIONS) ajv.addKeyword({ keyword: k.keyword, schemaType: k.schemaType });
    return ajv;
  };
  const withDefaults = make(true);
  const plain = make(false);
  const relaxed = relaxLeaves(SCHEMAS.env);
  relaxed['$id'] = 'urn:appliance:schema:env-encrypted';
  compiled = {
    full: {
      app: withDefaults.compile(SCHEMAS.app),
      appliance: withDefaults.compile(SCHEMAS.appliance),
      bootstrap: withDefaults.compile(SCHEMAS.bootstrap),
      env: withDefaults.compile(SCHEMAS.env),
    },
    encryptedEnv: plain.compile(relaxed),
  };
  return compiled;
}

/**
 * Validates `data` against a schema, filling in defaults (in place); on success returns the
 * document typed, with keys in schema order.
 */
export function validateDocument<N extends SchemaName>(
  name: N,
  data: JsonValue,
  file: string,
): ConfigResult<SchemaTypes[N]> {
  const validate = validators().full[name];
  if (validate(data)) return ok(orderLikeSchema(SCHEMAS[name], data) as unknown as SchemaTypes[N]);
  return { ok: false, errors: ajvErrorsToIssues(validate.errors ?? [], file) };
}

/**
 * Checks a SOPS-encrypted env.yml without decrypting it: keys (unknown, missing) and the shape
 * of objects and lists, with any scalar accepted where the schema wants a scalar, since
 * encrypted values are ENC[…] strings.
 */
export function validateEncryptedEnv(data: JsonValue, file: string): ConfigIssue[] {
  const validate = validators().encryptedEnv;
  if (validate(data)) return [];
  return ajvErrorsToIssues(validate.errors ?? [], file);
}

/**
 * Fills in a document's schema defaults in place, whether or not it is valid (ajv assigns
 * defaults while it walks): for trees whose leaves are placeholders, see `keyless-env.ts`.
 */
export function fillDefaults(name: SchemaName, data: JsonValue): void {
  validators().full[name](data);
}
