import type { SecretRegistry } from '../../lib/secrets.ts';

/** Where a restic repository is and how to open it. */
export interface ResticRepository {
  /** A local path, `sftp:…`, `rest:http(s)://…` or `s3:…`. */
  repository: string;
  password: string;
  /** Extra environment (S3 keys, REST credentials). */
  env?: Readonly<Record<string, string>>;
  /** known_hosts lines for an sftp host. */
  knownHosts?: readonly string[];
}

export interface ResticOptions {
  /** The restic binary (default `restic` on PATH). */
  bin?: string;
  /** restic's cache (speeds up incremental backups); default: restic's own. */
  cacheDir?: string;
  /** Secret values are also registered here, for the caller's log scrubbing. */
  secrets?: SecretRegistry;
  /**
   * Where a local repository's accepted key is remembered (0600), so that checking it needs no
   * key derivation; see key-memo.ts. Without it every check asks restic.
   */
  keyMemo?: string;
  /** IANA zone in which retention counts days, weeks and months (restic uses the local zone). */
  timezone?: string;
}
