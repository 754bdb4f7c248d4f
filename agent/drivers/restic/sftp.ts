/**
 * The ssh command restic uses for an sftp repository when env.yml gives the host's keys, so
 * the host key is checked against them and not against root's ~/.ssh/known_hosts.
 */

/** A user name ssh cannot take for an option: no leading '-', plain characters only. */
const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;
/** A host name or IPv4 address (no leading '-'), or an IPv6 address in brackets. */
const HOST = /^(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])$/;

/**
 * User, host and port of `sftp:user@host:/path` or `sftp://user@host:port//path`; undefined when
 * the repository is not sftp or its user or host is not plain (ssh, run by root, would take
 * `-oProxyCommand=…` there for an option).
 */
export function sftpTarget(repository: string): { user?: string; host: string; port?: number } | undefined {
  const url = /^sftp:\/\/(?:([^@/]+)@)?([^:/[]+|\[[^\]]+\])(?::(\d+))?\//.exec(repository);
  const short = url === null ? /^sftp:(?:([^@/:[]+)@)?([^:/[]+|\[[^\]]+\]):/.exec(repository) : null;
  const match = url ?? short;
  if (match === null) return undefined;
  const [, user, host, port] = match;
  if (host === undefined || !HOST.test(host) || (user !== undefined && !USER.test(user))) return undefined;
  return {
    ...(user === undefined ? {} : { user }),
    host: host.replace(/^\[|\]$/g, ''),
    ...(port === undefined ? {} : { port: Number(port) }),
  };
}

/**
 * restic's `-o sftp.command=…` for a repository, with strict host key checking against
 * `knownHostsFile`; undefined when the repository is not sftp (or not a plain one).
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
  // After '--' ssh takes no more options: the destination is a destination, "sftp" the subsystem.
  parts.push('-s', '--', target.user === undefined ? target.host : `${target.user}@${target.host}`, 'sftp');
  return parts.join(' ');
}
