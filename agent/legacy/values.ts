/** Translations of single values of the old appliance's env.yml. */

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
type Day = (typeof DAYS)[number];
const CRON_DAY: Record<Day, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** How long the update window derived from an old update time stays open. */
const WINDOW_HOURS = 2;

/**
 * A systemd OnCalendar value of the forms the old appliance used (`[Days] *-*-* HH:MM[:SS]`,
 * days as `Sun`, `Mon,Fri` or `Mon..Fri`) as a cron expression plus an update window starting
 * then; undefined for anything else.
 */
export function onCalendarToCron(
  calendar: string,
): { cron: string; days: Day[]; start: string; end: string } | undefined {
  const m = /^(?:([A-Za-z.,]+)\s+)?\*-\*-\*\s+([0-9]{1,2}):([0-9]{2})(?::[0-9]{2})?$/.exec(calendar.trim());
  if (m === null) return undefined;
  const hour = Number(m[2]);
  const minute = Number(m[3]);
  if (hour > 23 || minute > 59) return undefined;
  let days: Day[] = [...DAYS];
  if (m[1] !== undefined) {
    const parsed = parseDays(m[1]);
    if (parsed === undefined) return undefined;
    days = parsed;
  }
  const dow = days.length === 7 ? '*' : days.map((d) => CRON_DAY[d]).join(',');
  const hh = (h: number): string => String(h % 24).padStart(2, '0');
  const mm = String(minute).padStart(2, '0');
  return {
    cron: `${minute} ${hour} * * ${dow}`,
    days,
    start: `${hh(hour)}:${mm}`,
    end: `${hh(hour + WINDOW_HOURS)}:${mm}`,
  };
}

function parseDays(text: string): Day[] | undefined {
  const out = new Set<Day>();
  for (const part of text.toLowerCase().split(',')) {
    const [from, to, extra] = part.split('..');
    const a = DAYS.indexOf((from ?? '').slice(0, 3) as Day);
    if (a < 0 || extra !== undefined) return undefined;
    const b = to === undefined ? a : DAYS.indexOf(to.slice(0, 3) as Day);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.add(DAYS[i] as Day);
  }
  return DAYS.filter((d) => out.has(d));
}

/**
 * The restic repository for an old duplicity target: file:///path → /path,
 * sftp:// or scp://user@host/path → sftp:user@host:/path (duplicity's `//abs` and `/rel`
 * paths both become absolute). Other schemes have no direct equivalent: undefined.
 */
export function legacyBackupRepository(url: string): string | undefined {
  const file = /^file:\/\/(\/.*)$/.exec(url);
  if (file !== null) return (file[1] as string).replace(/\/+$/, '') || '/';
  const ssh = /^(?:sftp|scp|ssh|pexpect\+sftp|paramiko\+scp)?:\/\/([^/@\s]+@)?([^/:\s]+)(?::([0-9]+))?\/(.*)$/.exec(
    url,
  );
  if (ssh === null || !/^(sftp|scp|ssh|pexpect\+sftp|paramiko\+scp):/.test(url)) return undefined;
  const [, user = '', host = '', port, rest = ''] = ssh;
  // restic's sftp backend takes no password in the URL and no port other than ssh's own.
  if (user.includes(':') || (port !== undefined && port !== '22')) return undefined;
  const path = `/${rest.replace(/^\/+/, '')}`.replace(/\/+$/, '');
  return `sftp:${user}${host}:${path}`;
}
