/**
 * The ssh command restic uses for an sftp repository when env.yml gives the host's keys, so
 * the host key is checked against them and not against root's ~/.ssh/known_hosts.
 */

/** User, host and port of `sftp:user@host:/path` or `sftp://user@host:port//path`. */
export function sftpTarget(repository: string): { user?: string; host: string; port?: number } | undefined {
  const url = /^sftp:\/\/(?:([^@/]+)@)?([^:/]+|\[[^\]]+\])(?::(\d+))?\//.exec(repository);
  if (url !== null) {
    const [, user, host, port] = url;
    if (host === undefined) return undefined;
    return {
      ...(user === undefined ? {} : { user }),
      host: host.replace(/^\[|\]$/g, ''),
      ...(port === undefined ? {} : { port: Number(port) }),
    };
  }
  const short = /^sftp:(?:([^@/:]+)@)?([^:/]+):/.exec(repository);
  if (short === null) return undefined;
  const [, user, host] = short;
  if (host === undefined) return undefined;
  return { ...(user === undefined ? {} : { user }), host };
}

/**
 * restic's `-o sftp.command=…` for a repository, with strict host key checking against
 * `knownHostsFile`; undefined when the repository is not sftp.
 */
export function sftpCommand(repository: string, knownHostsFile: string): string | undefined {
  const target = sftpTarget(repository);
  if (target === undefined) return undefined;
  const parts = [
    'ssh',
    '-o',
    `UserKnownHostsFile=${knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
  ];
  if (target.port !== undefined) parts.push('-p', String(target.port));
  parts.push(target.user === undefined ? target.host : `${target.user}@${target.host}`, '-s', 'sftp');
  return parts.join(' ');
}
