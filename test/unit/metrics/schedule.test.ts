/**
 * When a weekly digest runs: wall-clock weekday and time in the team's time zone, across the DST
 * changes of Europe (last Sunday of March / October) and the US (second Sunday of March, first of
 * November), including times that do not exist or happen twice on those days.
 */
import { TZDate } from '@date-fns/tz';
import { describe, expect, it } from 'vitest';
import {
  nextDigestRun,
  previousDigestRun,
  weekStartOf,
  type DigestTime,
} from '../../../src/core/metrics/schedule.js';

const at = (iso: string) => new Date(iso);
const sched = (weekday: DigestTime['weekday'], hhmm: string, timeZone: string): DigestTime => {
  const [hour, minute] = hhmm.split(':').map(Number);
  return { weekday, time: { hour: hour ?? 0, minute: minute ?? 0 }, timeZone };
};

/** The next `n` runs after `from`. */
function runs(s: DigestTime, from: string, n: number): string[] {
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    t = nextDigestRun(s, t);
    out.push(t.toISOString());
  }
  return out;
}

describe('nextDigestRun across DST', () => {
  it('Monday 09:00 Europe/Berlin is 08:00 UTC in winter and 07:00 UTC in summer', () => {
    expect(runs(sched(1, '09:00', 'Europe/Berlin'), '2026-03-16T12:00:00Z', 3)).toEqual([
      '2026-03-23T08:00:00.000Z',
      '2026-03-30T07:00:00.000Z', // after the change on Sunday 29 March
      '2026-04-06T07:00:00.000Z',
    ]);
    expect(runs(sched(1, '09:00', 'Europe/Berlin'), '2026-10-19T12:00:00Z', 2)).toEqual([
      '2026-10-26T08:00:00.000Z', // after the change back on Sunday 25 October
      '2026-11-02T08:00:00.000Z',
    ]);
  });

  it('Monday 09:00 America/New_York follows the US change (two weeks before Europe)', () => {
    expect(runs(sched(1, '09:00', 'America/New_York'), '2026-03-01T00:00:00Z', 3)).toEqual([
      '2026-03-02T14:00:00.000Z',
      '2026-03-09T13:00:00.000Z', // after Sunday 8 March
      '2026-03-16T13:00:00.000Z',
    ]);
    expect(runs(sched(1, '09:00', 'America/New_York'), '2026-10-26T00:00:00Z', 2)).toEqual([
      '2026-10-26T13:00:00.000Z',
      '2026-11-02T14:00:00.000Z', // after Sunday 1 November
    ]);
  });

  it('a time inside the spring-forward gap runs at the end of the gap', () => {
    // 02:30 does not exist on 2026-03-29 in Berlin: 03:00 CEST = 01:00 UTC.
    expect(runs(sched(0, '02:30', 'Europe/Berlin'), '2026-03-22T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-04-05T00:30:00.000Z',
    ]);
    // 02:30 does not exist on 2026-03-08 in New York: 03:00 EDT = 07:00 UTC.
    expect(runs(sched(0, '02:30', 'America/New_York'), '2026-03-02T00:00:00Z', 2)).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-15T06:30:00.000Z',
    ]);
  });

  it('a time that happens twice on the fall-back day runs once, at its first occurrence', () => {
    const berlin = sched(0, '02:30', 'Europe/Berlin');
    expect(runs(berlin, '2026-10-18T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-11-01T01:30:00.000Z', // not 01:30 UTC on 25 October (02:30 CET, the second occurrence)
    ]);
    const ny = sched(0, '01:30', 'America/New_York');
    expect(runs(ny, '2026-10-26T00:00:00Z', 2)).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-08T06:30:00.000Z',
    ]);
  });

  it('is strictly after its argument, and previousDigestRun is at or before it', () => {
    const s = sched(1, '09:00', 'Europe/Berlin');
    expect(nextDigestRun(s, at('2026-03-30T07:00:00Z')).toISOString()).toBe('2026-04-06T07:00:00.000Z');
    expect(previousDigestRun(s, at('2026-03-30T07:00:00Z')).toISOString()).toBe('2026-03-30T07:00:00.000Z');
    expect(previousDigestRun(s, at('2026-03-30T06:59:59Z')).toISOString()).toBe('2026-03-23T08:00:00.000Z');
  });

  it('every run is the schedule`s local weekday and time, a week apart in local time (random zones and starts)', () => {
    const zones = [
      'Europe/Berlin',
      'America/New_York',
      'America/Los_Angeles',
      'Australia/Sydney',
      'Asia/Kolkata',
      'UTC',
    ];
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    for (let i = 0; i < 300; i++) {
      const zone = zones[Math.floor(rand() * zones.length)] ?? 'UTC';
      const weekday = Math.floor(rand() * 7) as DigestTime['weekday'];
      // Hours 4-23 never fall into a DST gap in these zones.
      const s = sched(weekday, `${4 + Math.floor(rand() * 20)}:${Math.floor(rand() * 60)}`, zone);
      const from = new Date(Date.UTC(2026, 0, 1) + rand() * 365 * 86_400_000);
      const next = nextDigestRun(s, from);
      expect(next.getTime()).toBeGreaterThan(from.getTime());
      const local = new TZDate(next.getTime(), zone);
      expect([local.getDay(), local.getHours(), local.getMinutes()]).toEqual([
        weekday,
        s.time.hour,
        s.time.minute,
      ]);
      // No run between `from` and `next`.
      expect(previousDigestRun(s, new Date(next.getTime() - 1)).getTime()).toBeLessThanOrEqual(
        from.getTime(),
      );
      expect(next.getTime() - from.getTime()).toBeLessThanOrEqual(7 * 86_400_000 + 3_600_000);
    }
  });
});

describe('weekStartOf', () => {
  it('is the Monday of the local week', () => {
    // Sunday 23:30 UTC is already Monday 01:30 in Berlin.
    expect(weekStartOf(at('2026-03-29T23:30:00Z'), 'Europe/Berlin')).toBe('2026-03-30');
    expect(weekStartOf(at('2026-03-29T23:30:00Z'), 'UTC')).toBe('2026-03-23');
    // Monday 05:00 UTC is still Sunday evening in Los Angeles.
    expect(weekStartOf(at('2026-03-30T05:00:00Z'), 'America/Los_Angeles')).toBe('2026-03-23');
    expect(weekStartOf(at('2026-03-30T12:00:00Z'), 'America/Los_Angeles')).toBe('2026-03-30');
    expect(weekStartOf(at('2026-01-04T12:00:00Z'), 'UTC')).toBe('2025-12-29');
  });
});
