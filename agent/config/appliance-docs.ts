import type { JsonValue } from '../core/json.ts';
import type { AppDefinition, ApplianceConfig, EnvConfig } from '../core/config-types.gen.ts';

/** The three documents of one appliance, each already valid against its schema. */
export interface ApplianceDocs {
  app: AppDefinition;
  appFile: string;
  appliance: ApplianceConfig;
  applianceFile: string;
  /** Decrypted env.yml, or the encrypted tree (keys readable, values ENC[…]) when not decrypted. */
  envTree: JsonValue;
  /** Set when env.yml was decrypted and validated with the full schema. */
  env?: EnvConfig;
  envFile: string;
}
