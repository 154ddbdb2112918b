import { describe, expect, it } from 'vitest';
import { nextWindowOccurrence } from '../../../src/config/schedule.js';
import { MaintenanceWindow } from '../../../src/config/policy-schema.js';

/** Wall-clock parts of an instant in a zone, by Intl (independent of date-fns). */
function wall(d: Date, timeZone: string): { weekday: string; date: string; time: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return {
    weekday: parts.weekday,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    time: `${parts.hour}:${parts.minute}`,
  };
}

const window = (input: unknown) => MaintenanceWindow.parse(input);

describe('nextWindowOccurrence', () => {
  const cases: [string, string, string, string][] = [
    // zone, schedule, from (ISO), expected weekday of the opening
    ['Europe/Berlin', 'Tue 02:00-04:00', '2025-03-20T12:00:00Z', 'Tue'],
    ['Europe/Berlin', 'Sun 02:30-04:00', '2025-03-25T00:00:00Z', 'Sun'], // 2025-03-30: 02:30 does not exist
    ['Europe/Berlin', 'Sun 02:30-04:00', '2025-10-20T00:00:00Z', 'Sun'], // 2025-10-26: 02:30 happens twice
    ['America/New_York', 'Sat,Sun 01:00-05:00', '2025-03-06T00:00:00Z', 'Sat'],
    ['America/New_York', 'Sun 01:00-05:00', '2025-11-01T12:00:00Z', 'Sun'], // 2025-11-02: DST ends
    ['Asia/Kolkata', 'daily 23:30-00:30', '2025-06-01T00:00:00Z', 'Sun'],
  ];

  it.each(cases)('%s %s after %s', (timeZone, schedule, from, weekday) => {
    const w = window({ name: 'w', schedule, timeZone });
    const start = new Date(from);
    const next = nextWindowOccurrence(w, start)!;
    expect(next.start.getTime()).toBeGreaterThanOrEqual(start.getTime());
    expect(next.start.getTime() - start.getTime()).toBeLessThan(8 * 86_400_000);
    const local = wall(next.start, timeZone);
    expect(local.weekday).toBe(weekday);
    const { hour, minute } = w.schedule[0].start;
    const wanted = `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`;
    if (local.time !== wanted) {
      // Only a start time that a DST jump skips may move, and only forward past the gap.
      expect(local.time > wanted).toBe(true);
      expect(wall(new Date(next.start.getTime() - 3_600_000), timeZone).time < wanted).toBe(true);
    }
    // the window closes at its wall-clock end time, also on a DST change day
    const endMinutes = (hour * 60 + minute + w.schedule[0].durationMinutes) % (24 * 60);
    const wantedEnd = `${String(Math.floor(endMinutes / 60)).padStart(2, '0')}:${String(endMinutes % 60).padStart(2, '0')}`;
    expect(wall(next.end, timeZone).time).toBe(wantedEnd);
  });

  it('returns the window that is open now', () => {
    const w = window({ name: 'w', schedule: 'Tue 02:00-04:00', timeZone: 'Europe/Berlin' });
    const now = new Date('2025-06-03T01:30:00Z'); // Tue 03:30 in Berlin (CEST)
    const next = nextWindowOccurrence(w, now)!;
    expect(next.start.toISOString()).toBe('2025-06-03T00:00:00.000Z');
  });

  it('skips blackout dates, in the window zone, and fleet-wide ones', () => {
    const w = window({
      name: 'w',
      schedule: 'daily 01:00-02:00',
      timeZone: 'America/New_York',
      blackoutDates: ['2025-12-24..2025-12-26'],
    });
    const from = new Date('2025-12-23T12:00:00Z');
    const next = nextWindowOccurrence(w, from, {
      blackoutDates: [{ from: '2025-12-27', to: '2025-12-27' }],
    })!;
    expect(wall(next.start, 'America/New_York').date).toBe('2025-12-28');
  });

  it('returns undefined when blackouts cover the whole look-ahead', () => {
    const w = window({
      name: 'w',
      schedule: 'daily 01:00-02:00',
      timeZone: 'UTC',
      blackoutDates: ['2025-01-01..2025-12-31'],
    });
    expect(nextWindowOccurrence(w, new Date('2025-01-01T00:00:00Z'), { maxDays: 30 })).toBeUndefined();
  });
});
