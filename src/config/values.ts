import {
  DAY_NAMES,
  parseRecurringSlot,
  parseTimeOfDay,
  parseWeekday,
  type RecurringSlot,
  type TimeOfDay,
  type WeekdayNumber,
} from '../core/deployments/windows.js';
import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Value types of the policy file: each one validates a human-written value and, where that helps
 * the code that reads it, turns it into a ready-to-use form (durations into milliseconds, weekdays
 * into Date#getDay numbers, "Tue 02:00-04:00" into days + start + length). Every message starts
 * with "expected ..." so the error report can append ", got <value>".
 */

/** Closest candidate to `word` (edit distance), or undefined when nothing is close enough. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(word.length, best.length) / 3)));
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  // Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps.
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2][j - 2] + 1);
      d[i][j] = v;
    }
  }
  return d[a.length][b.length];
}

// ---------------------------------------------------------------------------------------------
// Names and identifiers

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A name other entries refer to (team, group, ring, window, environment). */
export const Name = z
  .string({ error: 'expected a name (letters, digits, ".", "_", "-"; at most 63 characters)' })
  .regex(NAME_RE, { error: 'expected a name (letters, digits, ".", "_", "-"; at most 63 characters)' });

const LABEL_KEY_RE = /^[A-Za-z0-9]([A-Za-z0-9._/-]{0,61}[A-Za-z0-9])?$/;
export const LabelKey = z
  .string()
  .regex(LABEL_KEY_RE, { error: 'expected a label name (letters, digits, ".", "_", "-", "/")' });

/** Label values are strings; YAML numbers and booleans (`tier: 1`) are read as their text. */
export const LabelValue = z
  .union([z.string(), z.number(), z.boolean()], { error: 'expected a label value (text, number or boolean)' })
  .transform((v) => String(v))
  .pipe(z.string().max(253, { error: 'expected a label value of at most 253 characters' }));

/** Slack conversation id of a public or private channel (C…, G…). */
export const SlackChannelId = z
  .string({ error: 'expected a Slack channel id such as "C0123ABCDEF"' })
  .regex(/^[CG][A-Z0-9]{6,}$/, { error: 'expected a Slack channel id such as "C0123ABCDEF"' });
/** Slack user id (U… or W… on Enterprise Grid). */
export const SlackUserId = z
  .string({ error: 'expected a Slack user id such as "U0123ABCDEF"' })
  .regex(/^[UW][A-Z0-9]{6,}$/, { error: 'expected a Slack user id such as "U0123ABCDEF"' });
/** Slack user group id (S…). */
export const SlackUserGroupId = z
  .string({ error: 'expected a Slack user group id such as "S0123ABCDEF"' })
  .regex(/^S[A-Z0-9]{6,}$/, { error: 'expected a Slack user group id such as "S0123ABCDEF"' });

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Microsoft Entra (Azure AD) object id of a user or group. */
export const EntraObjectId = z
  .string({ error: 'expected an Entra object id (a GUID such as "1b4e28ba-2fa1-11d2-883f-0016d3cca427")' })
  .regex(GUID_RE, {
    error: 'expected an Entra object id (a GUID such as "1b4e28ba-2fa1-11d2-883f-0016d3cca427")',
  })
  .transform((s) => s.toLowerCase());
export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

// ---------------------------------------------------------------------------------------------
// Hosts

const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;
/** A DNS name or an IPv4/IPv6 address; never something an SSH client could read as an option. */
export const HostAddress = z
  .string({ error: 'expected a host name or an IP address' })
  .refine((s) => isIP(s) !== 0 || HOSTNAME_RE.test(s), { error: 'expected a host name or an IP address' });

/** POSIX user name for SSH logins. */
export const UnixUser = z
  .string({ error: 'expected a user name such as "patchbot"' })
  .regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, { error: 'expected a user name such as "patchbot"' });

export const Port = z
  .number({ error: 'expected a port number 1-65535' })
  .int({ error: 'expected a port number 1-65535' })
  .min(1, { error: 'expected a port number 1-65535' })
  .max(65535, { error: 'expected a port number 1-65535' });

/**
 * A pinned SSH host key as OpenSSH prints it (`ssh-keygen -lf key.pub`, `ssh-keyscan host | ssh-keygen -lf -`):
 * "SHA256:" and the unpadded base64 of the 32-byte SHA-256 of the key blob.
 */
export const HostKeyFingerprint = z
  .string({
    error:
      'expected an SSH host key fingerprint such as "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"',
  })
  .refine((s) => hostKeySha256Hex(s) !== undefined, {
    error:
      'expected an SSH host key fingerprint such as "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"',
  });

/** "SHA256:base64" -> the sha256 hex that an ssh2 `hostVerifier` compares; undefined when malformed. */
export function hostKeySha256Hex(fingerprint: string): string | undefined {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(fingerprint);
  if (!m?.[1]) return undefined;
  const bytes = Buffer.from(m[1], 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Time

/** Whether the runtime knows this IANA time zone (Europe/Berlin, America/New_York, UTC). */
export function isTimeZone(tz: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function timeZoneNames(): string[] {
  return [...Intl.supportedValuesOf('timeZone'), 'UTC'];
}

export const TimeZone = z
  .string({ error: 'expected an IANA time zone such as "Europe/Berlin"' })
  .superRefine((tz, ctx) => {
    if (isTimeZone(tz)) return;
    const hint = closest(tz, timeZoneNames());
    ctx.addIssue({
      code: 'custom',
      message: `expected an IANA time zone such as "Europe/Berlin"${hint ? ` (did you mean "${hint}"?)` : ''}`,
    });
  });

const DURATION_RE = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
/** "90s", "30m", "2h", "1d", "1h30m", or "0" -> milliseconds; undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  const text = s.trim();
  if (text === '0') return 0;
  const m = DURATION_RE.exec(text);
  if (!m || text === '') return undefined;
  const [, d, h, min, sec] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(sec ?? 0) * 1000;
}

const DURATION_MSG = 'expected a duration such as "30m", "2h", "1d" or "1h30m"';
/** A duration written as text; parsed into milliseconds. */
export const Duration = z
  .string({ error: DURATION_MSG })
  .refine((s) => parseDuration(s) !== undefined, { error: DURATION_MSG })
  .transform((s) => parseDuration(s) ?? 0);

export { parseTimeOfDay, parseWeekday, type TimeOfDay, type WeekdayNumber };
export const WEEKDAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

const WEEKDAY_MSG = 'expected a weekday such as "mon" or "Monday"';
/** "mon", "Monday", "TUE"... -> 0-6 (0 = Sunday). */
export const Weekday = z.string({ error: WEEKDAY_MSG }).transform((s, ctx) => {
  const day = parseWeekday(s);
  if (day !== undefined) return day;
  const hint = closest(s, Object.keys(DAY_NAMES));
  ctx.addIssue({ code: 'custom', message: `${WEEKDAY_MSG}${hint ? ` (did you mean "${hint}"?)` : ''}` });
  return z.NEVER;
});

const TIME_MSG = 'expected a time of day "HH:MM" such as "09:00"';
export const TimeOfDayText = z.string({ error: TIME_MSG }).transform((s, ctx) => {
  const t = parseTimeOfDay(s);
  if (t) return t;
  ctx.addIssue({ code: 'custom', message: TIME_MSG });
  return z.NEVER;
});

/** A recurring window: the days it starts on, its start time (in the window's time zone) and its length. */
export type RecurringWindow = RecurringSlot;

const WINDOW_MSG =
  'expected a recurring window such as "Tue 02:00-04:00", "Mon-Fri 22:00-02:00", "Sat,Sun 01:00-05:00" or "daily 03:00-04:00"';

/**
 * "Tue 02:00-04:00", "Mon,Thu 01:00-03:00", "Mon-Fri 22:00-02:00" (ends the next day),
 * "daily 03:00-04:00", "weekdays ...", "weekends ..." — parsed by the deployment calendar itself.
 */
export const parseRecurringWindow = parseRecurringSlot;

export const RecurringWindowText = z.string({ error: WINDOW_MSG }).transform((s, ctx) => {
  const w = parseRecurringWindow(s);
  if (w) return w;
  ctx.addIssue({ code: 'custom', message: WINDOW_MSG });
  return z.NEVER;
});

/** A calendar date range, inclusive, as "YYYY-MM-DD" strings in the time zone of whatever uses it. */
export interface DateRange {
  from: string;
  to: string;
}

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === s;
}

const DATE_RANGE_MSG = 'expected a date "2025-12-24" or a date range "2025-12-20..2026-01-02"';
/** "2025-12-24" or "2025-12-20..2026-01-02" (both ends included). */
export const DateRangeText = z.string({ error: DATE_RANGE_MSG }).transform((s, ctx): DateRange => {
  const [from, to = from, extra] = s.trim().split('..');
  if (from !== undefined && extra === undefined && isCalendarDate(from) && isCalendarDate(to)) {
    if (to >= from) return { from, to };
    ctx.addIssue({ code: 'custom', message: 'expected a date range whose end is not before its start' });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: DATE_RANGE_MSG });
  return z.NEVER;
});

/** A count ("2") or a share of the hosts ("10%"). */
export type Budget = { kind: 'count'; value: number } | { kind: 'percent'; value: number };
const BUDGET_MSG = 'expected a number of hosts (e.g. 2) or a percentage (e.g. "10%")';
export const BudgetValue = z
  .union([z.number(), z.string()], { error: BUDGET_MSG })
  .transform((v, ctx): Budget => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0) return { kind: 'count', value: v };
    } else {
      const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
      if (m && Number(m[1]) <= 100) return { kind: 'percent', value: Number(m[1]) };
      if (/^\s*\d+\s*$/.test(v)) return { kind: 'count', value: Number(v) };
    }
    ctx.addIssue({ code: 'custom', message: BUDGET_MSG });
    return z.NEVER;
  });

/** Integers with an "expected ..." message that reads well in the error report. */
export function intIn(min: number, max: number, what = 'an integer'): z.ZodNumber {
  const msg =
    max === Number.MAX_SAFE_INTEGER ? `expected ${what} >= ${min}` : `expected ${what} from ${min} to ${max}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}
export function positiveInt(): z.ZodNumber {
  const msg = 'expected a positive integer';
  return z.number({ error: msg }).int({ error: msg }).min(1, { error: msg });
}
