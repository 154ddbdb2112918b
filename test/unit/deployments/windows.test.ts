import { describe, expect, it } from 'vitest';

import {
  isInWindow,
  MaintenanceWindowSpec,
  nextWindowStart,
  parseRecurringSlot,
  windowBounds,
  zonedWallTime,
  type MaintenanceWindowInput,
} from '../../../src/core/deployments/windows.js';

const win = (input: MaintenanceWindowInput) => MaintenanceWindowSpec.parse(input);
const at = (iso: string) => new Date(iso);

/** Independent oracle: the wall-clock time of an instant in a zone, from the platform's Intl data. */
function wall(d: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}`;
}

const BERLIN = 'Europe/Berlin';
const NY = 'America/New_York';

describe('windowBounds across DST changes', () => {
  it.each([
    // zone, schedule, from, expected start (UTC), expected end (UTC), local start, local end, why
    [
      BERLIN,
      'Tue 02:00-04:00',
      '2026-03-23T12:00:00Z',
      '2026-03-24T01:00:00Z',
      '2026-03-24T03:00:00Z',
      '2026-03-24 02:00',
      '2026-03-24 04:00',
      'plain CET week',
    ],
    [
      BERLIN,
      'Tue 02:00-04:00',
      '2026-03-30T12:00:00Z',
      '2026-03-31T00:00:00Z',
      '2026-03-31T02:00:00Z',
      '2026-03-31 02:00',
      '2026-03-31 04:00',
      'first CEST week: same wall clock, UTC moves',
    ],
    [
      BERLIN,
      'Sun 02:30-04:00',
      '2026-03-28T12:00:00Z',
      '2026-03-29T01:00:00Z',
      '2026-03-29T02:00:00Z',
      '2026-03-29 03:00',
      '2026-03-29 04:00',
      'spring forward: 02:30 does not exist, opens at 03:00',
    ],
    [
      BERLIN,
      'Sun 02:00-02:30',
      '2026-03-28T12:00:00Z',
      '2026-04-05T00:00:00Z',
      '2026-04-05T00:30:00Z',
      '2026-04-05 02:00',
      '2026-04-05 02:30',
      'spring forward: entirely in the gap, skipped that day',
    ],
    [
      BERLIN,
      'Sun 02:30-04:00',
      '2026-10-24T12:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T03:00:00Z',
      '2026-10-25 02:30',
      '2026-10-25 04:00',
      'fall back: first 02:30 (CEST), 04:00 CET',
    ],
    [
      BERLIN,
      'Sat 23:00-01:00',
      '2026-03-28T12:00:00Z',
      '2026-03-28T22:00:00Z',
      '2026-03-29T00:00:00Z',
      '2026-03-28 23:00',
      '2026-03-29 01:00',
      'crosses midnight into the DST day',
    ],
    [
      BERLIN,
      'Sat 23:00-03:00',
      '2026-03-28T12:00:00Z',
      '2026-03-28T22:00:00Z',
      '2026-03-29T01:00:00Z',
      '2026-03-28 23:00',
      '2026-03-29 03:00',
      'wall-clock end over the gap: 3 real hours',
    ],
    [
      NY,
      'Sun 02:30-03:30',
      '2026-03-07T12:00:00Z',
      '2026-03-08T07:00:00Z',
      '2026-03-08T07:30:00Z',
      '2026-03-08 03:00',
      '2026-03-08 03:30',
      'New York spring forward gap',
    ],
    [
      NY,
      'Sun 01:30-02:30',
      '2026-10-31T12:00:00Z',
      '2026-11-01T05:30:00Z',
      '2026-11-01T07:30:00Z',
      '2026-11-01 01:30',
      '2026-11-01 02:30',
      'New York fall back: first 01:30 (EDT)',
    ],
    [
      NY,
      'Sat 23:00-01:00',
      '2026-10-31T12:00:00Z',
      '2026-11-01T03:00:00Z',
      '2026-11-01T05:00:00Z',
      '2026-10-31 23:00',
      '2026-11-01 01:00',
      'ends at the first 01:00 of the fall-back night',
    ],
    [
      NY,
      'Mon,Thu 22:00-23:00',
      '2026-03-06T12:00:00Z',
      '2026-03-10T02:00:00Z',
      '2026-03-10T03:00:00Z',
      '2026-03-09 22:00',
      '2026-03-09 23:00',
      'several weekdays, first after the change',
    ],
  ])('%s %s from %s', (zone, schedule, from, start, end, localStart, localEnd) => {
    const w = win({ timeZone: zone, schedule: [schedule] });
    const b = windowBounds(w, at(from));
    expect(b).toBeDefined();
    expect(b!.start.toISOString()).toBe(new Date(start).toISOString());
    expect(b!.end.toISOString()).toBe(new Date(end).toISOString());
    expect(wall(b!.start, zone)).toBe(localStart);
    expect(wall(b!.end, zone)).toBe(localEnd);
  });

  it('returns the window open at `from` with its full bounds', () => {
    const w = win({ timeZone: BERLIN, schedule: ['Tue 02:00-04:00'] });
    const b = windowBounds(w, at('2026-03-24T02:30:00Z'));
    expect(b).toEqual({ start: at('2026-03-24T01:00:00Z'), end: at('2026-03-24T03:00:00Z') });
  });

  it('merges slots that touch into one open interval', () => {
    const w = win({ timeZone: NY, schedule: ['Sat 23:00-01:00', 'Sun 01:00-02:30'] });
    // 2026-11-01: Sun 01:00 (first, EDT) .. 02:30 EST.
    expect(windowBounds(w, at('2026-10-31T12:00:00Z'))).toEqual({
      start: at('2026-11-01T03:00:00Z'),
      end: at('2026-11-01T07:30:00Z'),
    });
  });

  it('agrees with the oracle for every Tuesday of 2026 in Berlin', () => {
    const w = win({ timeZone: BERLIN, schedule: ['Tue 02:00-04:00'] });
    let from = at('2026-01-01T00:00:00Z');
    for (let i = 0; i < 52; i++) {
      const b = windowBounds(w, from)!;
      expect(wall(b.start, BERLIN).slice(11)).toBe('02:00');
      expect(wall(b.end, BERLIN).slice(11)).toBe('04:00');
      expect(new Date(b.start).getUTCDay() === 2 || new Date(b.start).getUTCDay() === 1).toBe(true);
      expect(b.end.getTime() - b.start.getTime()).toBe(2 * 3_600_000);
      from = b.end;
    }
  });
});

describe('blackout dates', () => {
  const w = win({ timeZone: BERLIN, schedule: ['Tue 02:00-04:00'], blackoutDates: ['2026-03-24'] });

  it('skips a window that opens on a blackout date', () => {
    expect(windowBounds(w, at('2026-03-23T00:00:00Z'))?.start).toEqual(at('2026-03-31T00:00:00Z'));
    expect(nextWindowStart(w, at('2026-03-23T00:00:00Z'))).toEqual(at('2026-03-31T00:00:00Z'));
    expect(isInWindow(w, at('2026-03-24T01:30:00Z'))).toBe(false);
  });

  it('skips ranges, inclusive at both ends', () => {
    const r = win({
      timeZone: BERLIN,
      schedule: ['daily 02:00-03:00'],
      blackoutDates: ['2026-12-24..2026-12-26'],
    });
    expect(wall(windowBounds(r, at('2026-12-23T12:00:00Z'))!.start, BERLIN)).toBe('2026-12-27 02:00');
  });

  it('cuts a window that runs into a blackout date at its local midnight', () => {
    const r = win({ timeZone: BERLIN, schedule: ['Sat 23:00-01:00'], blackoutDates: ['2026-03-29'] });
    expect(windowBounds(r, at('2026-03-28T12:00:00Z'))).toEqual({
      start: at('2026-03-28T22:00:00Z'),
      end: at('2026-03-28T23:00:00Z'),
    });
  });

  it('applies fleet-wide blackouts passed as options', () => {
    const plain = win({ timeZone: BERLIN, schedule: ['Tue 02:00-04:00'] });
    const b = windowBounds(plain, at('2026-03-23T00:00:00Z'), {
      blackoutDates: [{ from: '2026-03-24', to: '2026-03-24' }],
    });
    expect(b?.start).toEqual(at('2026-03-31T00:00:00Z'));
  });

  it('gives undefined when the window never opens within the horizon', () => {
    const r = win({
      timeZone: BERLIN,
      schedule: ['Tue 02:00-04:00'],
      blackoutDates: ['2026-01-01..2027-12-31'],
    });
    expect(windowBounds(r, at('2026-03-01T00:00:00Z'))).toBeUndefined();
    expect(nextWindowStart(r, at('2026-03-01T00:00:00Z'))).toBeUndefined();
  });
});

describe('isInWindow and nextWindowStart', () => {
  const w = win({ timeZone: BERLIN, schedule: ['Sat 23:00-01:00'] });
  it.each([
    ['2026-03-28T21:59:59Z', false, 'just before'],
    ['2026-03-28T22:00:00Z', true, 'start is inside'],
    ['2026-03-28T23:30:00Z', true, 'after local midnight'],
    ['2026-03-29T00:00:00Z', false, 'end is outside'],
    ['2026-03-29T01:30:00Z', false, 'in the DST gap hour, window closed'],
  ])('%s -> %s (%s)', (iso, inside) => {
    expect(isInWindow(w, at(iso))).toBe(inside);
  });

  it('next start is the next opening, not the one already open', () => {
    expect(nextWindowStart(w, at('2026-03-28T23:00:00Z'))).toEqual(at('2026-04-04T21:00:00Z'));
    expect(nextWindowStart(w, at('2026-03-28T22:00:00Z'))).toEqual(at('2026-03-28T22:00:00Z'));
  });
});

describe('zonedWallTime', () => {
  it.each([
    [BERLIN, 2026, 2, 29, 2, 0, '2026-03-29T01:00:00.000Z', 'gap start -> moment of the change'],
    [BERLIN, 2026, 2, 29, 2, 59, '2026-03-29T01:00:00.000Z', 'end of the gap -> moment of the change'],
    [BERLIN, 2026, 2, 29, 3, 0, '2026-03-29T01:00:00.000Z', 'first valid minute'],
    [BERLIN, 2026, 9, 25, 2, 0, '2026-10-25T00:00:00.000Z', 'overlap -> first occurrence'],
    [BERLIN, 2026, 9, 25, 3, 0, '2026-10-25T02:00:00.000Z', 'after the overlap'],
    [NY, 2026, 2, 8, 2, 15, '2026-03-08T07:00:00.000Z', 'New York gap'],
    [NY, 2026, 10, 1, 1, 0, '2026-11-01T05:00:00.000Z', 'New York overlap -> EDT'],
    ['UTC', 2026, 5, 1, 12, 0, '2026-06-01T12:00:00.000Z', 'UTC'],
    ['Asia/Kolkata', 2026, 0, 1, 0, 0, '2025-12-31T18:30:00.000Z', 'half-hour offset'],
  ])('%s %i-%i-%i %i:%i -> %s (%s)', (zone, y, m, d, h, min, iso) => {
    expect(zonedWallTime(zone, { y, m, d }, h, min).toISOString()).toBe(iso);
  });
});

describe('schedule parsing', () => {
  it.each([
    ['Tue 02:00-04:00', [2], 2, 0, 120],
    ['Sat 23:00-01:00', [6], 23, 0, 120],
    ['Mon-Fri 22:00-02:00', [1, 2, 3, 4, 5], 22, 0, 240],
    ['Fri-Mon 01:00-02:00', [0, 1, 5, 6], 1, 0, 60],
    ['mon,thu 01:30-03:00', [1, 4], 1, 30, 90],
    ['daily 00:00-24:00', [0, 1, 2, 3, 4, 5, 6], 0, 0, 1440],
    ['weekends 03:00-04:00', [0, 6], 3, 0, 60],
  ])('%s', (spec, days, hour, minute, duration) => {
    expect(parseRecurringSlot(spec)).toEqual({
      spec,
      days,
      start: { hour, minute },
      durationMinutes: duration,
    });
  });

  it.each([
    'Tue',
    'Tue 02:00',
    'Tue 02:00-02:00',
    'Tue 25:00-26:00',
    'Tue 24:00-01:00',
    'Funday 01:00-02:00',
    'Tue 2:0-3:00',
    '',
  ])('refuses %j', (spec) => {
    expect(parseRecurringSlot(spec)).toBeUndefined();
  });

  it('refuses unknown time zones, bad schedules and bad dates with a message', () => {
    expect(() => win({ timeZone: 'Mars/Olympus', schedule: ['Tue 02:00-04:00'] })).toThrow(/IANA time zone/);
    expect(() => win({ timeZone: BERLIN, schedule: ['Tuesday at two'] })).toThrow(/recurring window/);
    expect(() =>
      win({ timeZone: BERLIN, schedule: ['Tue 02:00-04:00'], blackoutDates: ['2026-02-30'] }),
    ).toThrow(/expected a date/);
    expect(() => win({ timeZone: BERLIN, schedule: [] })).toThrow();
  });
});
