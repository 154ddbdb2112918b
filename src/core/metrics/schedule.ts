/**
 * When a team's weekly digest runs: a weekday and a wall-clock time in the team's IANA time zone
 * (teams[].digest). The instant is computed from the wall clock each week, so "Mon 09:00
 * Europe/Berlin" is 08:00 UTC in winter and 07:00 UTC in summer. On the two days a year where
 * wall-clock time is ambiguous the rules of the maintenance windows apply
 * (src/core/deployments/windows.ts zonedWallTime):
 *
 * - a time that does not exist (spring forward, e.g. 02:30 on 2026-03-29 in Europe/Berlin) runs at
 *   the first valid instant after the gap (03:00 local);
 * - a time that happens twice (fall back, e.g. 02:30 on 2026-10-25 in Europe/Berlin) runs once, at
 *   its first occurrence.
 *
 * A digest belongs to the week (Monday to Sunday, in the team's zone) its scheduled time falls in.
 */
import { TZDate } from '@date-fns/tz';
import {
  zonedWallTime,
  type CalendarDay,
  type TimeOfDay,
  type WeekdayNumber,
} from '../deployments/windows.js';

export interface DigestTime {
  /** 0 = Sunday ... 6 = Saturday (the policy file's parsed weekday). */
  weekday: WeekdayNumber;
  time: TimeOfDay;
  /** IANA zone, e.g. "Europe/Berlin". */
  timeZone: string;
}

function localDay(at: Date, zone: string): CalendarDay {
  const t = new TZDate(at.getTime(), zone);
  return { y: t.getFullYear(), m: t.getMonth(), d: t.getDate() };
}

function addDays(day: CalendarDay, n: number): CalendarDay {
  const t = new Date(Date.UTC(day.y, day.m, day.d + n));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth(), d: t.getUTCDate() };
}

function weekdayOf(day: CalendarDay): WeekdayNumber {
  return new Date(Date.UTC(day.y, day.m, day.d)).getUTCDay() as WeekdayNumber;
}

function iso(day: CalendarDay): string {
  return new Date(Date.UTC(day.y, day.m, day.d)).toISOString().slice(0, 10);
}

/** The digest instant on the local calendar day `day` (which must be the schedule's weekday). */
function occurrenceOn(schedule: DigestTime, day: CalendarDay): Date {
  return zonedWallTime(schedule.timeZone, day, schedule.time.hour, schedule.time.minute);
}

/** The first scheduled digest instant strictly after `after`. */
export function nextDigestRun(schedule: DigestTime, after: Date): Date {
  const today = localDay(after, schedule.timeZone);
  // The occurrence this week may still be ahead; otherwise the one a week later always is.
  for (let i = -1; i <= 8; i++) {
    const day = addDays(today, i);
    if (weekdayOf(day) !== schedule.weekday) continue;
    const at = occurrenceOn(schedule, day);
    if (at.getTime() > after.getTime()) return at;
  }
  throw new Error('no digest occurrence within 8 days');
}

/** The last scheduled digest instant at or before `at`. */
export function previousDigestRun(schedule: DigestTime, at: Date): Date {
  const today = localDay(at, schedule.timeZone);
  for (let i = 1; i >= -8; i--) {
    const day = addDays(today, i);
    if (weekdayOf(day) !== schedule.weekday) continue;
    const t = occurrenceOn(schedule, day);
    if (t.getTime() <= at.getTime()) return t;
  }
  throw new Error('no digest occurrence within 8 days');
}

/** The Monday ("YYYY-MM-DD") of the local week `at` falls in, in `zone`. */
export function weekStartOf(at: Date, zone: string): string {
  const day = localDay(at, zone);
  const back = (weekdayOf(day) + 6) % 7;
  return iso(addDays(day, -back));
}

/** Milliseconds from `now` until `at` (0 when it has passed). */
export function delayUntil(at: Date, now: Date): number {
  return Math.max(0, at.getTime() - now.getTime());
}
