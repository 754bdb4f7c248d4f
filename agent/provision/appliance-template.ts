import { stringify } from 'yaml';
import type { AppDefinition } from '../core/config-types.gen.ts';

/** What a new appliance.yml is made from. */
export interface ApplianceTemplateOptions {
  name: string;
  domain: string;
  /** Repository path of the app definition, e.g. apps/demo/app.yml. */
  appPath: string;
  app: AppDefinition;
  timezone: string;
}

/**
 * A new appliance.yml: the app, every service's image pinned here (taken
 * from the app definition, so an update is a one-line change in review), default schedules and
 * policies spelled out with comments so reviewers see what applies.
 */
export function renderApplianceYml(o: ApplianceTemplateOptions): string {
  const images: Record<string, string> = {};
  for (const [service, svc] of Object.entries(o.app.services)) if (svc.image !== undefined) images[service] = svc.image;
  const block = (value: unknown): string => indent(stringify(value, { lineWidth: 0 }).trimEnd());
  return `# Appliance ${o.name} (${o.domain}): desired versions, schedules and policies. Plain text,
# changed by pull request; secrets and site settings are in env.yml (SOPS-encrypted).
app: ${o.appPath}
# Pin images by version tag or digest; bump them in a pull request to update.
images:
${block(images)}
timezone: ${JSON.stringify(o.timezone)}
# Cron expressions in the time zone above; null switches a job off.
schedules:
  backup: '30 22 * * *'
  backup_check: '0 5 * * sun'
  restore_test: '0 5 1 * *'
  snapshot_expiry: '0 * * * *'
policies:
  rollback:
    # false: a failed health gate keeps the new version and stalls instead of rolling back.
    on_failed_health: true
    health_timeout_seconds: 300
    reverse_migrations: ${o.app.commands.reverse_migrate === undefined ? 'false' : 'true'}
    # A downgrade after a migration the app cannot reverse restores this snapshot (data since is lost):
    allow_snapshot_restore: null
  backup:
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 6
    max_age_hours: 32
  snapshots:
    pre_migrate_expiry_days: 7
`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
