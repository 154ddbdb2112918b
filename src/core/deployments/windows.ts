/**
 * Recurring maintenance windows in an IANA time zone: "Tue 02:00-04:00", "Mon,Thu 01:00-03:00",
 * "Mon-Fri 22:00-02:00" (ends the next day), "daily 03:00-04:00", "weekdays ...", "weekends ...".
 *
 * Times are wall-clock times in the window's zone, so a window opens at 02:00 local time on both
 * sides of a DST change. The rules for the two kinds of day where wall-clock time is ambiguous:
 *
 * - Spring forward (a gap: 02:00-03:00 does not exist in Europe/Berlin on 2026-03-29): a start or end
 *   inside the gap moves to the first valid instant after it, the moment of the change (03:00 local).
 *   "Sun 02:30-04:00" that day opens at 03:00 and closes at 04:00. An occurrence that lies entirely
 *   inside the gap ("Sun 02:00-02:30") collapses to nothing and does not open that day.
 * - Fall back (an overlap: 02:00-03:00 happens twice in Europe/Berlin on 2026-10-25): a start or end
 *   inside the overlap means its first occurrence (the earlier instant, still on summer time).
 *
 * The end is the wall-clock end time (start date + duration in wall-clock minutes), not start + a
 * fixed number of real minutes, so "02:00-04:00" closes at 04:00 local even on a DST day (one hour
 * of real time on the spring-forward day, three on the fall-back day in Berlin).
 *
 * Blackout dates are calendar dates in the window's zone: a window does not open on a blackout date,
 * and a window that opened the day before closes at the blackout date's local midnight (a freeze
 * covers the whole date). Occurrences that overlap or touch are merged into one open interval.
 */
import { TZDate, tzOffset } from '@date-fns/tz';
import { z } from 'zod';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** How far ahead the functions look for a window that opens (blackouts may cover a long span). */
export const DEFAULT_HORIZON_DAYS = 400;

export type WeekdayNumber = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export interface TimeOfDay {
  hour: number;
  minute: number;
}

/** One recurring slot, the shape the policy file's `schedule` entries parse into. */
export interface RecurringSlot {
  /** The text as written, e.g. "Tue 02:00-04:00". */
  spec: string;
  /** Days the slot starts on, 0 = Sunday ... 6 = Saturday. */
  days: WeekdayNumber[];
  start: TimeOfDay;
  /** Wall-clock length in minutes (1..1440); a slot whose end is before its start ends the next day. */
  durationMinutes: number;
}

/** Inclusive calendar date range, "YYYY-MM-DD" in the window's time zone. */
export interface DateRange {
  from: string;
  to: string;
}

export const DAY_NAMES: Readonly<Record<string, WeekdayNumber>> = {
  sun: 0,
  sunday: 0,
  mon: 1,
  monday: 1,
  tue: 2,
  tues: 2,
  tuesday: 2,
  wed: 3,
  wednesday: 3,
  thu: 4,
  thur: 4,
  thurs: 4,
  thursday: 4,
  fri: 5,
  friday: 5,
  sat: 6,
  saturday: 6,
};

/** "mon", "Monday", "TUE"... -> 0-6 (0 = Sunday). */
export function parseWeekday(s: string): WeekdayNumber | undefined {
  const key = s.trim().toLowerCase();
  return Object.hasOwn(DAY_NAMES, key) ? DAY_NAMES[key] : undefined;
}

function parseDays(text: string): WeekdayNumber[] | undefined {
  const lower = text.toLowerCase();
  if (lower === 'daily') return [0, 1, 2, 3, 4, 5, 6];
  if (lower === 'weekdays') return [1, 2, 3, 4, 5];
  if (lower === 'weekends') return [0, 6];
  const days = new Set<WeekdayNumber>();
  for (const part of lower.split(',')) {
    const range = part.split('-');
    if (range.length === 1) {
      const d = parseWeekday(part);
      if (d === undefined) return undefined;
      days.add(d);
    } else if (range.length === 2) {
      const from = parseWeekday(range[0] ?? '');
      const to = parseWeekday(range[1] ?? '');
      if (from === undefined || to === undefined) return undefined;
      for (let d = from; ; d = ((d + 1) % 7) as WeekdayNumber) {
        days.add(d);
        if (d === to) break;
      }
    } else {
      return undefined;
    }
  }
  return [...days].sort((a, b) => a - b);
}

/** "HH:MM" (24-hour clock); "24:00" only when `allowEndOfDay`. */
export function parseTimeOfDay(s: string, allowEndOfDay = false): TimeOfDay | undefined {
  const m = /^([01]?\d|2[0-4]):([0-5]\d)$/.exec(s.trim());
  if (!m) return undefined;
  const hour = Number(m[1]);
  const minute = Number(m[2]);
  if (hour === 24 && (!allowEndOfDay || minute !== 0)) return undefined;
  return { hour, minute };
}

/** "Tue 02:00-04:00" -> a slot; undefined when the text is not a recurring window. */
export function parseRecurringSlot(spec: string): RecurringSlot | undefined {
  const m = /^\s*(\S+)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(spec);
  if (!m?.[1] || !m[2] || !m[3]) return undefined;
  const days = parseDays(m[1]);
  const start = parseTimeOfDay(m[2]);
  const end = parseTimeOfDay(m[3], true);
  if (!days || !start || !end) return undefined;
  const startMin = start.hour * 60 + start.minute;
  const endMin = end.hour * 60 + end.minute;
  if (startMin === endMin) return undefined;
  const durationMinutes = endMin > startMin ? endMin - startMin : 24 * 60 - startMin + endMin;
  return { spec: spec.trim(), days, start, durationMinutes };
}

export function isValidTimeZone(zone: string): boolean {
  if (zone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))).toISOString().slice(0, 10) === s;
}

const SLOT_MSG =
  'expected a recurring window such as "Tue 02:00-04:00", "Sat 23:00-01:00", "Mon-Fri 22:00-02:00" or "daily 03:00-04:00"';
const DATE_MSG = 'expected a date "2026-12-24" or a range "2026-12-20..2027-01-02"';

export const TimeZoneName = z
  .string()
  .refine(isValidTimeZone, { error: 'expected an IANA time zone such as "Europe/Berlin"' });

const WeekdayNumberSchema = z
  .number()
  .int()
  .min(0)
  .max(6)
  .transform((n) => n as WeekdayNumber);

export const RecurringSlotInput = z.union([
  z.string().transform((s, ctx): RecurringSlot => {
    const slot = parseRecurringSlot(s);
    if (slot) return slot;
    ctx.addIssue({ code: 'custom', message: `${SLOT_MSG}, got ${JSON.stringify(s)}` });
    return z.NEVER;
  }),
  z.object({
    spec: z.string(),
    days: z.array(WeekdayNumberSchema).min(1),
    start: z.object({ hour: z.number().int().min(0).max(23), minute: z.number().int().min(0).max(59) }),
    durationMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60),
  }),
]);

export const DateRangeInput = z.union([
  z.string().transform((s, ctx): DateRange => {
    const [from, to = from, extra] = s.trim().split('..');
    if (
      from !== undefined &&
      extra === undefined &&
      isCalendarDate(from) &&
      isCalendarDate(to) &&
      to >= from
    ) {
      return { from, to };
    }
    ctx.addIssue({ code: 'custom', message: `${DATE_MSG}, got ${JSON.stringify(s)}` });
    return z.NEVER;
  }),
  z
    .object({ from: z.string().refine(isCalendarDate), to: z.string().refine(isCalendarDate) })
    .refine((r) => r.to >= r.from, { error: 'expected a date range whose end is not before its start' }),
]);

/**
 * A maintenance window. The policy file's parsed `maintenanceWindows` entries fit this shape as
 * they are (unknown keys such as `match` are dropped).
 */
export const MaintenanceWindowSpec = z.object({
  name: z.string().min(1).default('window'),
  timeZone: TimeZoneName,
  schedule: z.array(RecurringSlotInput).min(1),
  blackoutDates: z.array(DateRangeInput).default([]),
});
export type MaintenanceWindowSpec = z.output<typeof MaintenanceWindowSpec>;
export type MaintenanceWindowInput = z.input<typeof MaintenanceWindowSpec>;

export interface WindowInterval {
  start: Date;
  end: Date;
}

export interface WindowOptions {
  /** Extra blackout dates (fleet-wide freezes), in the window's time zone. */
  blackoutDates?: readonly DateRange[];
  /** Look this many days ahead at most (default 400). */
  horizonDays?: number;
}

// ---------------------------------------------------------------------------------------------
// calendar arithmetic on plain dates (no time zone involved)

export interface CalendarDay {
  y: number;
  /** 0-based month. */
  m: number;
  d: number;
}

function addDays(day: CalendarDay, n: number): CalendarDay {
  const t = new Date(Date.UTC(day.y, day.m, day.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth(), d: t.getUTCDate() };
}

function weekday(day: CalendarDay): WeekdayNumber {
  return new Date(Date.UTC(day.y, day.m, day.d)).getUTCDay() as WeekdayNumber;
}

function ymd(day: CalendarDay): string {
  return `${String(day.y).padStart(4, '0')}-${String(day.m + 1).padStart(2, '0')}-${String(day.d).padStart(2, '0')}`;
}

function localDay(at: Date, zone: string): CalendarDay {
  const t = new TZDate(at.getTime(), zone);
  return { y: t.getFullYear(), m: t.getMonth(), d: t.getDate() };
}

/** Offset of `zone` from UTC in minutes at instant `t` (ms). */
function offsetAt(zone: string, t: number): number {
  return tzOffset(zone, new Date(t));
}

/**
 * The instant a wall-clock time has in `zone`: the first occurrence when it happens twice (fall
 * back), the first valid instant after the gap when it does not exist (spring forward).
 */
export function zonedWallTime(zone: string, day: CalendarDay, hour: number, minute: number): Date {
  const wall = Date.UTC(day.y, day.m, day.d, hour, minute);
  const offsets = new Set([offsetAt(zone, wall - DAY), offsetAt(zone, wall), offsetAt(zone, wall + DAY)]);
  const valid = [...offsets]
    .map((o) => wall - o * MINUTE)
    .filter((t) => t + offsetAt(zone, t) * MINUTE === wall)
    .sort((a, b) => a - b);
  if (valid[0] !== undefined) return new Date(valid[0]);
  // In a gap: the first instant whose local time is at or after the requested wall time.
  const sorted = [...offsets].sort((a, b) => a - b);
  let lo = Math.floor((wall - (sorted[sorted.length - 1] ?? 0) * MINUTE) / MINUTE); // local < wall here
  let hi = Math.ceil((wall - (sorted[0] ?? 0) * MINUTE) / MINUTE); // local > wall here
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const t = mid * MINUTE;
    if (t + offsetAt(zone, t) * MINUTE >= wall) hi = mid;
    else lo = mid;
  }
  return new Date(hi * MINUTE);
}

function blackedOut(date: string, blackouts: readonly DateRange[]): boolean {
  return blackouts.some((b) => date >= b.from && date <= b.to);
}

/** The occurrences of every slot that starts on `day` (before merging). */
function occurrencesOn(
  window: MaintenanceWindowSpec,
  day: CalendarDay,
  blackouts: readonly DateRange[],
): WindowInterval[] {
  if (blackedOut(ymd(day), blackouts)) return [];
  const out: WindowInterval[] = [];
  for (const slot of window.schedule) {
    if (!slot.days.includes(weekday(day))) continue;
    const start = zonedWallTime(window.timeZone, day, slot.start.hour, slot.start.minute);
    const endTotal = slot.start.hour * 60 + slot.start.minute + slot.durationMinutes;
    const endDay = addDays(day, Math.floor(endTotal / 1440));
    const endMinute = endTotal % 1440;
    let end = zonedWallTime(window.timeZone, endDay, Math.floor(endMinute / 60), endMinute % 60);
    if (ymd(endDay) !== ymd(day) && endMinute > 0 && blackedOut(ymd(endDay), blackouts)) {
      const midnight = zonedWallTime(window.timeZone, endDay, 0, 0);
      if (midnight < end) end = midnight;
    }
    if (end.getTime() > start.getTime()) out.push({ start, end });
  }
  return out;
}

/** Merged open intervals in time order, starting with those open on the local day before `from`. */
function* intervals(
  window: MaintenanceWindowSpec,
  from: Date,
  options: WindowOptions,
): Generator<WindowInterval, void, undefined> {
  const blackouts = [...window.blackoutDates, ...(options.blackoutDates ?? [])];
  const horizon = options.horizonDays ?? DEFAULT_HORIZON_DAYS;
  const first = addDays(localDay(from, window.timeZone), -1);
  let buffer: WindowInterval[] = [];
  let current: WindowInterval | undefined;
  const merge = function* (next: WindowInterval): Generator<WindowInterval, void, undefined> {
    if (current && next.start.getTime() <= current.end.getTime()) {
      if (next.end.getTime() > current.end.getTime()) current = { start: current.start, end: next.end };
      return;
    }
    if (current) yield current;
    current = next;
  };
  for (let i = 0; i <= horizon + 1; i++) {
    const day = addDays(first, i);
    // Every occurrence of a later day starts at or after this day's local midnight, so what starts
    // before it is final and in order.
    const midnight = zonedWallTime(window.timeZone, day, 0, 0).getTime();
    const ready = buffer.filter((o) => o.start.getTime() < midnight).sort(byStart);
    buffer = buffer.filter((o) => o.start.getTime() >= midnight);
    for (const o of ready) yield* merge(o);
    buffer.push(...occurrencesOn(window, day, blackouts));
  }
  for (const o of buffer.sort(byStart)) yield* merge(o);
  if (current) yield current;
}

function byStart(a: WindowInterval, b: WindowInterval): number {
  return a.start.getTime() - b.start.getTime() || a.end.getTime() - b.end.getTime();
}

/**
 * The window open at `from` (its full bounds, start possibly before `from`), else the next one to
 * open. Undefined when none opens within the horizon (e.g. every day blacked out).
 */
export function windowBounds(
  window: MaintenanceWindowSpec,
  from: Date,
  options: WindowOptions = {},
): WindowInterval | undefined {
  for (const iv of intervals(window, from, options)) {
    if (iv.end.getTime() > from.getTime()) return iv;
  }
  return undefined;
}

/** The next time the window opens at or after `from` (a window already open at `from` does not count unless it opens exactly then). */
export function nextWindowStart(
  window: MaintenanceWindowSpec,
  from: Date,
  options: WindowOptions = {},
): Date | undefined {
  for (const iv of intervals(window, from, options)) {
    if (iv.start.getTime() >= from.getTime()) return iv.start;
  }
  return undefined;
}

/** Whether the window is open at `at` (start inclusive, end exclusive). */
export function isInWindow(window: MaintenanceWindowSpec, at: Date, options: WindowOptions = {}): boolean {
  const iv = windowBounds(window, at, options);
  return iv !== undefined && iv.start.getTime() <= at.getTime();
}

/**
 * When work may start at or after `from` within this window: `from` itself when the window is
 * open, else the next opening. Undefined when it never opens within the horizon.
 */
export function earliestStartInWindow(
  window: MaintenanceWindowSpec,
  from: Date,
  options: WindowOptions = {},
): { at: Date; bounds: WindowInterval } | undefined {
  const iv = windowBounds(window, from, options);
  if (!iv) return undefined;
  return { at: iv.start.getTime() <= from.getTime() ? from : iv.start, bounds: iv };
}
