import { isLoopbackHost } from '../core/loopback.ts';
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
  errors.push(...trustRules(config, file), ...urlRules(config, file));
  const hook = config.webhook;
  if (hook !== undefined && (hook.secret === undefined) === (hook.secret_file === undefined)) {
    errors.push({ file, path: '/webhook', message: "give exactly one of 'secret' or 'secret_file'" });
  }
  if (errors.length > 0) return { ok: false, errors };
  const warnings: ConfigIssue[] = config.trust.allow_unsigned ? [unsignedWarning(file)] : [];
  return { ok: true, value: config, warnings };
}

/** The warning an agent that applies unsigned commits gives at start and in /status. */
export function unsignedWarning(file: string): ConfigIssue {
  return {
    file,
    path: '/trust/allow_unsigned',
    message: 'commits are applied without signature checks: anyone who can push to the branch controls this appliance',
  };
}

function trustRules(config: BootstrapConfig, file: string): ConfigIssue[] {
  const { signers, allow_unsigned: unsigned } = config.trust;
  if (signers.length === 0 && !unsigned)
    return [
      { file, path: '/trust', message: 'needs signers (keys whose signed commits apply), or allow_unsigned: true' },
    ];
  if (signers.length > 0 && unsigned)
    return [{ file, path: '/trust/allow_unsigned', message: 'cannot be true while signers are given' }];
  return [];
}

function urlRules(config: BootstrapConfig, file: string): ConfigIssue[] {
  let url: URL;
  try {
    url = new URL(config.repo.url);
  } catch {
    return [{ file, path: '/repo/url', message: 'is not a valid URL' }];
  }
  const insecure = config.repo.allow_insecure_http;
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && !insecure)
    return [
      {
        file,
        path: '/repo/url',
        message: 'http:// is refused for a host that is not loopback (use https://, or allow_insecure_http: true)',
      },
    ];
  if (url.protocol !== 'http:' && insecure)
    return [{ file, path: '/repo/allow_insecure_http', message: 'applies only to an http:// URL' }];
  return [];
}
