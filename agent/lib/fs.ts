import { stat } from 'node:fs/promises';

/** True when something exists at `path` (file, directory, anything `stat` sees). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
