import { MaintenanceWindowSpec, windowBounds } from '../core/deployments/windows.js';
import type { MaintenanceWindow } from './policy-schema.js';
import type { DateRange } from './values.js';

export interface WindowOccurrence {
  start: Date;
  end: Date;
  /** The schedule entries ("Tue 02:00-04:00") of the window. */
  spec: string;
}

/**
 * The next time a maintenance window is open at or after `from` (or the one open at `from`), with
 * the window's own blackout dates and the fleet-wide ones. The calendar rules (time zones, DST gaps
 * and overlaps, windows crossing midnight, blackouts) are those of src/core/deployments/windows.ts,
 * which deployments use, so `config check` shows the times a deployment would really use.
 */
export function nextWindowOccurrence(
  window: MaintenanceWindow,
  from: Date,
  options: { blackoutDates?: DateRange[]; maxDays?: number } = {},
): WindowOccurrence | undefined {
  const spec = MaintenanceWindowSpec.parse({
    name: window.name,
    timeZone: window.timeZone,
    schedule: window.schedule,
    blackoutDates: window.blackoutDates,
  });
  const interval = windowBounds(spec, from, {
    blackoutDates: options.blackoutDates ?? [],
    horizonDays: options.maxDays ?? 400,
  });
  if (!interval) return undefined;
  return { start: interval.start, end: interval.end, spec: window.schedule.map((s) => s.spec).join(', ') };
}
