/**
 * The rule that keeps an empty appliance from rotating good backups out of the repository: a
 * backup runs only when the database check says "not empty" and the file store has a file.
 */

/** What the checks before a backup found. */
export interface GuardInput {
  /** Absent when the app has no database. */
  database?: { name: string; checkValue: string };
  /** Volumes marked for backup, and how many files they hold together. */
  volumes: readonly { name: string; hostPath: string }[];
  files: number;
}

/** Why a backup is refused: a stable code and a message for the operator. */
export interface GuardRefusal {
  code: 'BackupDatabaseEmpty' | 'BackupFilesEmpty';
  message: string;
  data: Record<string, unknown>;
}

/**
 * Reads the first value of the "not empty" SQL check: `t`/`true` or a number above 0 mean the
 * database holds data; anything else (0, `f`, nothing) means empty.
 */
export function databaseHasData(checkValue: string): boolean {
  const v = checkValue.trim();
  return /^(t|true)$/i.test(v) || (/^[0-9]+(\.[0-9]+)?$/.test(v) && Number(v) > 0);
}

/** The refusal for an empty database or file store, or undefined when the backup may run. */
export function guardBackup(input: GuardInput): GuardRefusal | undefined {
  if (input.database !== undefined && !databaseHasData(input.database.checkValue)) {
    const { name, checkValue } = input.database;
    return {
      code: 'BackupDatabaseEmpty',
      message: `refusing to back up: database ${name} is empty (check returned ${JSON.stringify(checkValue)}); existing backups are kept`,
      data: { database: name, value: checkValue },
    };
  }
  // An app without a file store has nothing to check; one with an empty store is refused.
  if (input.volumes.length > 0 && input.files === 0) {
    return {
      code: 'BackupFilesEmpty',
      message: `refusing to back up: the file store is empty (${input.volumes.map((v) => v.hostPath).join(', ')}); existing backups are kept`,
      data: { volumes: input.volumes.map((v) => v.name) },
    };
  }
  return undefined;
}
