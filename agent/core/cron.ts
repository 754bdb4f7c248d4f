/** A parsed 5-field cron expression: the allowed values of each field, sorted. */
export interface CronFields {
  minute: readonly number[];
  hour: readonly number[];
  dayOfMonth: readonly number[];
  month: readonly number[];
  /** 0 = Sunday … 6 = Saturday (7 is folded into 0). */
  dayOfWeek: readonly number[];
  /** True when day-of-month and day-of-week are both restricted (cron then matches either). */
  domAndDowRestricted: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  nameBase?: number;
}

const SPECS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS, nameBase: 0 },
];

/**
 * Parses `minute hour day-of-month month day-of-week` with `*`, lists, ranges, steps and
 * English month/day abbreviations. Returns a message instead of throwing for bad input.
 */
export function parseCron(expr: string): { ok: true; fields: CronFields } | { ok: false; message: string } {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5) return { ok: false, message: `needs 5 fields, found ${parts.length}` };
  const sets: number[][] = [];
  for (let i = 0; i < 5; i++) {
    const spec = SPECS[i] as FieldSpec;
    const r = parseField(parts[i] as string, spec);
    if (typeof r === 'string') return { ok: false, message: `${spec.name}: ${r}` };
    sets.push(r);
  }
  const [minute, hour, dayOfMonth, month, dow] = sets as [number[], number[], number[], number[], number[]];
  const dayOfWeek = [...new Set(dow.map((d) => (d === 7 ? 0 : d)))].sort((a, b) => a - b);
  return {
    ok: true,
    fields: {
      minute,
      hour,
      dayOfMonth,
      month,
      dayOfWeek,
      domAndDowRestricted: parts[2] !== '*' && parts[4] !== '*',
    },
  };
}

function parseField(text: string, spec: FieldSpec): number[] | string {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [rangeText, stepText, extra] = item.split('/');
    if (extra !== undefined || rangeText === undefined || rangeText === '') return `bad item '${item}'`;
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0) return `bad step '${stepText}'`;
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (rangeText === '*') {
      lo = spec.min;
      hi = spec.max;
    } else {
      const [a, b, more] = rangeText.split('-');
      if (more !== undefined) return `bad range '${rangeText}'`;
      const av = value(a ?? '', spec);
      if (av === undefined) return `bad value '${a ?? ''}'`;
      lo = av;
      if (b === undefined) {
        hi = stepText === undefined ? av : spec.max;
      } else {
        const bv = value(b, spec);
        if (bv === undefined) return `bad value '${b}'`;
        hi = bv;
      }
      if (lo > hi) return `range '${rangeText}' runs backwards`;
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return [...values].sort((x, y) => x - y);
}

function value(text: string, spec: FieldSpec): number | undefined {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const idx = spec.names?.indexOf(text.toLowerCase()) ?? -1;
  return idx >= 0 ? idx + (spec.nameBase ?? 0) : undefined;
}

/**
 * croner's zone option for a time zone: UTC as a fixed offset of 0, which croner works out
 * without Intl; any other zone by name (croner then formats dates with Intl.DateTimeFormat,
 * which loads ICU's formatting data, ~8 MB resident for the life of the process).
 */
export function cronZone(timezone: string): { timezone: string } | { utcOffset: number } {
  return timezone === 'UTC' || timezone === 'Etc/UTC' ? { utcOffset: 0 } : { timezone };
}
