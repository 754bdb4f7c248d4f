/** One problem found in a config file: which file, where in it (JSON pointer), and why. */
export interface ConfigIssue {
  file: string;
  /** JSON pointer into the document, '' for the whole file. */
  path: string;
  message: string;
}

/** The result of every fallible config step: a value with warnings, or the list of problems. */
export type ConfigResult<T> = { ok: true; value: T; warnings: ConfigIssue[] } | { ok: false; errors: ConfigIssue[] };

export function ok<T>(value: T, warnings: ConfigIssue[] = []): ConfigResult<T> {
  return { ok: true, value, warnings };
}

export function fail<T = never>(...errors: ConfigIssue[]): ConfigResult<T> {
  return { ok: false, errors };
}

/** Formats an issue as `file: path: message` (path omitted when empty). */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? `${issue.file}: ${issue.message}` : `${issue.file}: ${issue.path}: ${issue.message}`;
}
