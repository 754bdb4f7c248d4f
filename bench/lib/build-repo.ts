import { randomBytes, createHash } from 'node:crypto';
import { run } from '../../agent/lib/exec.ts';

/** Shape of the benchmark config repository. */
export interface BenchRepoShape {
  appliances: number;
  commits: number;
  /** Approximate size of each env.yml (encrypted-looking, so it neither compresses nor deltas well). */
  envBytes: number;
}

/**
 * Fills the bare repository `bare` through `git fast-import`: the first commit adds
 * `appliances/<name>/{appliance.yml,env.yml}` for every appliance, every later commit bumps the
 * version of one appliance and re-encrypts its env.yml, like day-to-day operations would.
 */
export async function buildBenchRepo(bare: string, shape: BenchRepoShape, branch = 'main'): Promise<void> {
  const chunks: string[] = [];
  const names = Array.from({ length: shape.appliances }, (_, i) => `site-${String(i).padStart(3, '0')}`);
  let time = Date.UTC(2024, 0, 1) / 1000;
  for (let c = 0; c < shape.commits; c++) {
    const touched = c === 0 ? names : [names[(c * 7) % names.length] ?? 'site-000'];
    chunks.push(`commit refs/heads/${branch}\n`);
    chunks.push(`committer Bench <bench@appliance.invalid> ${time} +0000\n`);
    chunks.push(data(c === 0 ? 'Initial appliances\n' : `Bump ${touched[0] ?? ''} to release ${c}\n`));
    for (const name of touched) {
      chunks.push(inline(`appliances/${name}/appliance.yml`, applianceYml(name, c)));
      chunks.push(inline(`appliances/${name}/env.yml`, envYml(name, shape.envBytes)));
    }
    chunks.push('\n');
    time += 3600;
  }
  chunks.push('done\n');
  await run('git', ['fast-import', '--quiet', '--done'], {
    cwd: bare,
    input: chunks.join(''),
    env: { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    timeoutMs: 600_000,
  });
}

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}`;
}

function inline(path: string, content: string): string {
  return `M 100644 inline ${path}\n${data(content)}`;
}

function applianceYml(name: string, release: number): string {
  const digest = createHash('sha256').update(`${name}:${release}`).digest('hex');
  const services = ['web', 'worker', 'scheduler', 'mail', 'search', 'redis', 'postgres'];
  return [
    `name: ${name}`,
    'app: ecs',
    'versions:',
    `  agent: 1.${release % 10}.0`,
    ...services.map((s) => `  ${s}: registry.local/ecs/${s}@sha256:${digest}`),
    'schedules:',
    '  backup: "0 3 * * *"',
    '  session_cleanup: "*/30 * * * *"',
    '  host_updates: "0 4 * * 0"',
    'policies:',
    '  update_window: { days: [mon, tue, wed, thu], from: "06:00", to: "08:00" }',
    '  rollback: automatic',
    '  reboot: kernel-only',
    '  backup_retention: { daily: 7, weekly: 4, monthly: 12 }',
    '',
  ].join('\n');
}

function envYml(name: string, bytes: number): string {
  const lines = [`# ${name}`];
  let size = 0;
  let i = 0;
  while (size < bytes) {
    const line = `key_${i++}: ENC[AES256_GCM,data:${randomBytes(48).toString('base64')},type:str]`;
    lines.push(line);
    size += line.length + 1;
  }
  lines.push('sops:', '  age:', `    - recipient: age1${randomBytes(20).toString('hex')}`, '  version: 3.9.0', '');
  return lines.join('\n');
}
