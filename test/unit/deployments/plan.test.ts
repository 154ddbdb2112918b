import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../../src/core/errors.js';
import { planDeployment, type PlanInput } from '../../../src/core/deployments/plan.js';
import { MaintenanceWindowSpec } from '../../../src/core/deployments/windows.js';

const MIN = 60_000;
const H = 60 * MIN;
const now = new Date('2026-03-23T12:00:00Z'); // a Monday
const tueBerlin = MaintenanceWindowSpec.parse({
  name: 'tue-night',
  timeZone: 'Europe/Berlin',
  schedule: ['Tue 02:00-04:00'],
});
const weekdaysNy = MaintenanceWindowSpec.parse({
  name: 'ny-weekdays',
  timeZone: 'America/New_York',
  schedule: ['weekdays 06:00-20:00'],
});
const frozen = MaintenanceWindowSpec.parse({
  name: 'frozen',
  timeZone: 'UTC',
  schedule: ['daily 01:00-02:00'],
  blackoutDates: ['2026-01-01..2027-12-31'],
});

const labelRings: PlanInput['rings'] = [
  { name: 'canary', selector: { label: { key: 'ring', value: 'canary' } }, concurrency: 1, soakMs: H },
  { name: 'pilot', selector: { label: { key: 'ring', value: 'pilot' } }, concurrency: 2, soakMs: 2 * H },
  { name: 'broad', concurrency: 5 },
];

const plan = (over: Partial<PlanInput>) =>
  planDeployment({
    hosts: [],
    rings: labelRings,
    windows: [tueBerlin, weekdaysNy, frozen],
    emergency: false,
    now,
    ...over,
  });
const ringHosts = (p: ReturnType<typeof planDeployment>) =>
  Object.fromEntries(p.rings.map((r) => [r.name, r.hosts.map((h) => h.name).sort()]));
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('ring assignment', () => {
  it.each<[string, PlanInput['hosts'], Record<string, string[]>]>([
    [
      'label selectors, the rest to the last ring',
      [
        { name: 'a', labels: { ring: 'canary' } },
        { name: 'b', labels: { ring: 'pilot' } },
        { name: 'c', labels: {} },
        { name: 'd', labels: { ring: 'other' } },
      ],
      { canary: ['a'], pilot: ['b'], broad: ['c', 'd'] },
    ],
    [
      "a host's own ring wins over selectors",
      [
        { name: 'a', labels: { ring: 'pilot' }, ring: 'canary' },
        { name: 'b', labels: { ring: 'canary' }, ring: 'broad' },
      ],
      { canary: ['a'], broad: ['b'] },
    ],
    ['empty rings are dropped', [{ name: 'x' }, { name: 'y' }], { broad: ['x', 'y'] }],
  ])('%s', (_name, hosts, expected) => {
    expect(ringHosts(plan({ hosts }))).toEqual(expected);
  });

  it('hosts matching no ring go to the last ring even when it has a selector', () => {
    const p = plan({
      hosts: [{ name: 'a', labels: { ring: 'canary' } }, { name: 'z' }],
      rings: [
        { name: 'canary', selector: { label: { key: 'ring', value: 'canary' } } },
        { name: 'named', selector: { hosts: ['nobody'] } },
      ],
    });
    expect(ringHosts(p)).toEqual({ canary: ['a'], named: ['z'] });
  });

  it('a host naming an unknown ring goes to the last ring with a warning', () => {
    const p = plan({
      hosts: [
        { name: 'a', ring: 'canry' },
        { name: 'b', labels: { ring: 'canary' } },
      ],
    });
    expect(ringHosts(p)).toEqual({ canary: ['b'], broad: ['a'] });
    expect(p.warnings.join('\n')).toMatch(/host a names ring "canry"/);
  });

  it.each([
    [10, 25, 3],
    [10, 3, 1],
    [50, 7, 4],
    [100, 5, 5],
    [1, 200, 2],
  ])('%i%% of %i hosts takes %i, the lowest sha256 first', (percent, n, expected) => {
    const names = Array.from({ length: n }, (_, i) => `host-${String(i).padStart(3, '0')}.example`);
    const p = plan({
      hosts: names.map((name) => ({ name })),
      rings: [{ name: 'canary', selector: { percent } }, { name: 'rest' }],
    });
    const oracle = [...names]
      .sort((a, b) => (sha(a) < sha(b) ? -1 : 1))
      .slice(0, expected)
      .sort();
    expect(p.rings[0].hosts.map((h) => h.name).sort()).toEqual(oracle);
    expect((p.rings[1]?.hosts.length ?? 0) + expected).toBe(n);
  });

  it('percentages take from what earlier rings left, and the plan does not depend on input order', () => {
    const hosts: PlanInput['hosts'] = Array.from({ length: 20 }, (_, i) => {
      const labels: Record<string, string> = i < 4 ? { ring: 'canary' } : {};
      return { name: `h${i}`, labels };
    });
    const rings = [
      { name: 'canary', selector: { label: { key: 'ring', value: 'canary' } } },
      { name: 'half', selector: { percent: 50 } },
      { name: 'rest' },
    ];
    const p1 = plan({ hosts, rings });
    const p2 = plan({ hosts: [...hosts].reverse(), rings });
    expect(p1.rings.map((r) => r.hosts.length)).toEqual([4, 8, 8]);
    expect(p2).toEqual(p1);
  });
});

describe('timing', () => {
  it('waits for windows and places the next ring after the estimate plus soak', () => {
    const p = plan({
      hosts: [
        { name: 'c1', labels: { ring: 'canary' }, window: 'tue-night' },
        { name: 'c2', labels: { ring: 'canary' }, window: 'tue-night' },
        { name: 'p1', labels: { ring: 'pilot' } },
        { name: 'p2', labels: { ring: 'pilot' }, window: 'tue-night' },
        { name: 'b1', window: 'ny-weekdays' },
      ],
      hostDurationMs: 10 * MIN,
    });
    const [canary, pilot, broad] = p.rings;
    // Tue 2026-03-24 02:00 Berlin (CET) = 01:00Z; two hosts at concurrency 1 = 2 waves.
    expect(canary.start).toEqual(new Date('2026-03-24T01:00:00Z'));
    expect(canary.hosts.every((h) => h.note === 'waits for window tue-night')).toBe(true);
    expect(canary.estimatedEnd).toEqual(new Date('2026-03-24T01:20:00Z'));
    // pilot may start at 01:20 + 1 h soak = 02:20Z, inside the window (open until 03:00Z).
    expect(pilot.notBefore).toEqual(new Date('2026-03-24T02:20:00Z'));
    expect(pilot.hosts.map((h) => [h.name, h.earliestStart?.toISOString(), h.note])).toEqual(
      [
        ['p1', '2026-03-24T02:20:00.000Z', 'no maintenance window: starts when its ring starts'],
        ['p2', '2026-03-24T02:20:00.000Z', 'window tue-night is open'],
      ].sort((a, b) => (sha(a[0]) < sha(b[0]) ? -1 : 1)),
    );
    expect(pilot.estimatedEnd).toEqual(new Date('2026-03-24T02:30:00Z'));
    // broad: 02:30 + 2 h soak = 04:30Z = 00:30 in New York; weekdays window opens 06:00 EDT = 10:00Z.
    expect(broad.notBefore).toEqual(new Date('2026-03-24T04:30:00Z'));
    expect(broad.hosts[0].earliestStart).toEqual(new Date('2026-03-24T10:00:00Z'));
    expect(broad.hosts[0].windowBounds).toEqual({
      start: new Date('2026-03-24T10:00:00Z'),
      end: new Date('2026-03-25T00:00:00Z'),
    });
  });

  it('the emergency lane does not wait for windows but keeps the soak unless told to skip it', () => {
    const hosts = [
      { name: 'c1', labels: { ring: 'canary' }, window: 'tue-night' },
      { name: 'b1', window: 'tue-night' },
    ];
    const p = plan({ hosts, emergency: true, hostDurationMs: 10 * MIN });
    expect(p.emergency).toBe(true);
    expect(p.rings[0].hosts[0].earliestStart).toEqual(now);
    expect(p.rings[0].hosts[0].note).toMatch(/emergency lane/);
    expect(p.rings[1].notBefore).toEqual(new Date(now.getTime() + 10 * MIN + H));
    const fast = plan({ hosts, emergency: true, skipSoak: true, hostDurationMs: 10 * MIN });
    expect(fast.rings[1].notBefore).toEqual(new Date(now.getTime() + 10 * MIN));
  });

  it('lists hosts that cannot be scheduled', () => {
    const p = plan({
      hosts: [{ name: 'nowin' }, { name: 'ice', window: 'frozen' }, { name: 'ok', window: 'tue-night' }],
      requireWindow: true,
    });
    expect(p.unschedulable.sort()).toEqual(['ice', 'nowin']);
    const byName = Object.fromEntries(p.rings.flatMap((r) => r.hosts).map((h) => [h.name, h]));
    expect(byName.nowin.note).toMatch(/requires one/);
    expect(byName.ice.note).toMatch(/does not open/);
    expect(byName.ok.earliestStart).toEqual(new Date('2026-03-24T01:00:00Z'));
    expect(p.rings[0].hosts.map((h) => h.name)).toEqual([
      'ok',
      ...['ice', 'nowin'].sort((a, b) => (sha(a) < sha(b) ? -1 : 1)),
    ]);
  });

  it('applies fleet-wide blackout dates', () => {
    const p = plan({
      hosts: [{ name: 'a', window: 'tue-night' }],
      blackoutDates: [{ from: '2026-03-24', to: '2026-03-24' }],
    });
    expect(p.rings[0].hosts[0].earliestStart).toEqual(new Date('2026-03-31T00:00:00Z'));
  });
});

describe('invalid input', () => {
  it.each<[string, Partial<PlanInput>, RegExp]>([
    ['unknown window', { hosts: [{ name: 'a', window: 'nope' }] }, /host a names maintenance window "nope"/],
    ['duplicate host', { hosts: [{ name: 'a' }, { name: 'a' }] }, /host a appears twice/],
    ['no rings', { hosts: [{ name: 'a' }], rings: [] }, /at least one ring/],
    ['zero concurrency', { hosts: [{ name: 'a' }], rings: [{ name: 'r', concurrency: 0 }] }, /ring #1/],
    [
      'percent over 100',
      { hosts: [{ name: 'a' }], rings: [{ name: 'r', selector: { percent: 150 } }] },
      /ring #1/,
    ],
    ['empty host name', { hosts: [{ name: '' }] }, /host #1/],
  ])('%s', (_name, over, message) => {
    expect(() => plan(over)).toThrow(ValidationError);
    expect(() => plan(over)).toThrow(message);
  });
});
