import { TZDate } from '@date-fns/tz';
import type { MaintenanceWindow } from './policy-schema.js';
import type { DateRange } from './values.js';

export interface WindowOccurrence {
  start: Date;
  end: Date;
  /** The schedule entry ("Tue 02:00-04:00") that opens it. */
  spec: string;
}

/**
 * The next time a maintenance window opens at or after `from` (or the one open at `from`), in the
 * window's time zone, skipping its blackout dates and the fleet-wide ones. Looks ahead `maxDays`.
 * A start time that does not exist on a DST spring-forward day moves to the first valid minute after it.
 */
export function nextWindowOccurrence(
  window: MaintenanceWindow,
  from: Date,
  options: { blackoutDates?: DateRange[]; maxDays?: number } = {},
): WindowOccurrence | undefined {
  const blackouts = [...window.blackoutDates, ...(options.blackoutDates ?? [])];
  const local = new TZDate(from.getTime(), window.timeZone);
  const maxDays = options.maxDays ?? 400;
  let best: WindowOccurrence | undefined;
  // Start one day back so a window that opened yesterday evening and is still open is found.
  for (let offset = -1; offset <= maxDays && best === undefined; offset++) {
    const day = new TZDate(local.getFullYear(), local.getMonth(), local.getDate() + offset, window.timeZone);
    const ymd = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, '0')}-${String(day.getDate()).padStart(2, '0')}`;
    if (blackouts.some((b) => ymd >= b.from && ymd <= b.to)) continue;
    for (const entry of window.schedule) {
      if (!entry.days.includes(day.getDay() as (typeof entry.days)[number])) continue;
      const start = new TZDate(
        day.getFullYear(),
        day.getMonth(),
        day.getDate(),
        entry.start.hour,
        entry.start.minute,
        window.timeZone,
      );
      const end = new Date(start.getTime() + entry.durationMinutes * 60_000);
      if (end.getTime() <= from.getTime()) continue;
      if (!best || start.getTime() < best.start.getTime()) {
        best = { start: new Date(start.getTime()), end, spec: entry.spec };
      }
    }
  }
  return best;
}
