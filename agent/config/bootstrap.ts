import type { ConfigIssue, ConfigResult } from '../core/result.ts';
import { parseYamlObject } from './parse-yaml.ts';
import { validateDocument } from './schemas.ts';
import type { BootstrapConfig } from '../core/config-types.gen.ts';

/**
 * Parses and checks the agent's bootstrap file (e.g. /etc/appliance/bootstrap.yml), filling in
 * defaults. Every problem is returned; nothing is thrown for bad content.
 */
export function loadBootstrap(text: string, file: string): ConfigResult<BootstrapConfig> {
  const parsed = parseYamlObject(text, file);
  if (!parsed.ok) return parsed;
  const valid = validateDocument('bootstrap', parsed.value, file);
  if (!valid.ok) return valid;
  const config = valid.value;
  const errors: ConfigIssue[] = [];
  config.trust.signers.forEach((s, i) => {
    if (s.openpgp === undefined && s.ssh === undefined) {
      errors.push({ file, path: `/trust/signers/${i}`, message: "needs an 'openpgp' key, an 'ssh' key or both" });
    }
  });
  const names = new Set<string>();
  config.trust.signers.forEach((s, i) => {
    if (names.has(s.name))
      errors.push({ file, path: `/trust/signers/${i}/name`, message: `signer '${s.name}' is listed twice` });
    names.add(s.name);
  });
  const hook = config.webhook;
  if (hook !== undefined && (hook.secret === undefined) === (hook.secret_file === undefined)) {
    errors.push({ file, path: '/webhook', message: "give exactly one of 'secret' or 'secret_file'" });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: config, warnings: [] };
}
