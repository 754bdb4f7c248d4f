import { parseDocument } from 'yaml';
import { AgentError } from '../core/errors.ts';
import { AGE_IDENTITY_PATH, BOOTSTRAP_PATH, renderUserData, type UserDataOptions } from './user-data.ts';

/** A further file the seed writes on the appliance (root-owned, 0600 unless told). */
export interface SeedFile {
  /** Absolute path on the appliance. */
  path: string;
  content: string;
  permissions?: string;
}

/**
 * `renderUserData` plus further `write_files` entries, e.g. the config repository's credentials
 * file. The result holds secrets: write it 0600.
 */
export function renderSeedUserData(options: UserDataOptions & { files?: readonly SeedFile[] }): string {
  const { files = [], ...base } = options;
  const text = renderUserData(base);
  if (files.length === 0) return text;
  const taken = new Set([BOOTSTRAP_PATH, AGE_IDENTITY_PATH]);
  for (const f of files) {
    if (!/^\/[^\s]+$/.test(f.path) || taken.has(f.path) || f.path.split('/').includes('..'))
      throw new AgentError('UserDataInvalid', `seed file path '${f.path}' is invalid or used twice`, {
        terminal: true,
      });
    if (f.permissions !== undefined && !/^0[0-7]{3}$/.test(f.permissions))
      throw new AgentError('UserDataInvalid', `permissions of ${f.path} must be an octal mode like 0600`, {
        terminal: true,
      });
    taken.add(f.path);
  }
  const doc = parseDocument(text);
  for (const f of files)
    doc.addIn(['write_files'], {
      path: f.path,
      owner: 'root:root',
      permissions: f.permissions ?? '0600',
      content: f.content,
    });
  return doc.toString({ lineWidth: 0 });
}
