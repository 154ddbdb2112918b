import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../../src/core/errors.js';
import {
  ApprovalRule,
  capAcceptanceExpiry,
  deferOptions,
  resolveDefer,
  selectApprovalRule,
  type ApprovalRuleInput,
} from '../../../src/core/policy/approval.js';

const H = 3_600_000;
const DAY = 24 * H;
const now = new Date('2026-03-02T14:30:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

const rule = (input: Partial<ApprovalRuleInput> & { name: string }) =>
  ApprovalRule.parse({ approvers: { users: [], groups: [] }, approvalTtlMs: 72 * H, ...input });

describe('selectApprovalRule', () => {
  const rules = [
    rule({ name: 'any', match: {} }),
    rule({ name: 'payments', match: { teams: ['payments'] } }),
    rule({ name: 'prod', match: { environments: ['production'] }, quorum: 2 }),
    rule({ name: 'payments-prod', match: { teams: ['payments'], environments: ['production'] }, quorum: 2 }),
    rule({ name: 'kev-prod', match: { environments: ['production'], kev: true }, quorum: 3 }),
    rule({ name: 'risky', match: { riskAtLeast: 90 }, quorum: 2 }),
    rule({ name: 'risky-strict', match: { riskAtLeast: 80 }, quorum: 3 }),
    rule({ name: 'no-kev-staging', match: { environments: ['staging'], kev: false } }),
  ];
  it.each([
    [
      { team: 'web', environments: ['development'], kev: false, maxRisk: 10 },
      'any',
      'only the catch-all matches',
    ],
    [
      { team: 'payments', environments: ['development'], kev: false, maxRisk: 10 },
      'payments',
      'team beats catch-all',
    ],
    [
      { team: 'payments', environments: ['production'], kev: false, maxRisk: 10 },
      'payments-prod',
      'two conditions beat one',
    ],
    [{ team: 'web', environments: ['production'], kev: true, maxRisk: 10 }, 'kev-prod', 'kev + environment'],
    [
      { team: 'payments', environments: ['production'], kev: true, maxRisk: 10 },
      'kev-prod',
      'equal specificity: higher quorum wins',
    ],
    [
      { team: 'web', environments: ['staging', 'production'], kev: false, maxRisk: 10 },
      'prod',
      'several environments: the strictest per-environment rule',
    ],
    [
      { team: 'web', environments: ['development'], kev: false, maxRisk: 95 },
      'risky-strict',
      'both risk rules match: stricter quorum',
    ],
    [
      { team: 'web', environments: ['development'], kev: false, maxRisk: 85 },
      'risky-strict',
      'risk at least 80',
    ],
    [
      { team: 'web', environments: ['staging'], kev: true, maxRisk: 10 },
      'any',
      'kev:false rule does not match a KEV change',
    ],
  ])('%o -> %s (%s)', (ctx, expected) => {
    expect(selectApprovalRule(rules, ctx)?.name).toBe(expected);
  });

  it('a change in several environments never gets a weaker rule than one of them alone', () => {
    const ctx = { team: 'payments', environments: ['staging', 'production'], kev: false, maxRisk: 10 };
    expect(selectApprovalRule(rules, ctx)?.name).toBe('payments-prod');
    expect(selectApprovalRule(rules, { ...ctx, environments: ['production', 'staging'] })?.name).toBe(
      'payments-prod',
    );
  });

  it('ties of equal strictness go to the first listed', () => {
    const a = rule({ name: 'a', match: { teams: ['x'] } });
    const b = rule({ name: 'b', match: { environments: ['production'] } });
    const ctx = { team: 'x', environments: ['production'], kev: false, maxRisk: 0 };
    expect(selectApprovalRule([a, b], ctx)?.name).toBe('a');
    expect(selectApprovalRule([b, a], ctx)?.name).toBe('b');
  });

  it('gives undefined when nothing matches (the policy default applies)', () => {
    expect(
      selectApprovalRule([rules[1]], { team: 'web', environments: [], kev: false, maxRisk: 0 }),
    ).toBeUndefined();
  });
});

describe('capAcceptanceExpiry', () => {
  it.each([
    [10 * DAY, 90, false, 10 * DAY],
    [90 * DAY, 90, false, 90 * DAY],
    [90 * DAY + 1, 90, true, 90 * DAY],
    [365 * DAY, 30, true, 30 * DAY],
  ])('requested now+%i ms, max %i days -> capped %s', (requested, maxDays, capped, expected) => {
    const r = capAcceptanceExpiry(new Date(now.getTime() + requested), maxDays, now);
    expect(r.capped).toBe(capped);
    expect(r.expiresAt.getTime() - now.getTime()).toBe(expected);
    if (capped) expect(r.note).toMatch(new RegExp(`at most ${maxDays} days`));
  });

  it.each([
    [now, 90],
    [ago(1), 90],
    [new Date(now.getTime() + DAY), 0],
    [new Date(Number.NaN), 90],
  ])('refuses %s with max %i', (requested, maxDays) => {
    expect(() => capAcceptanceExpiry(requested, maxDays, now)).toThrow(ValidationError);
  });
});

describe('defer', () => {
  it('offers 1 day and 1 week from now', () => {
    expect(deferOptions(now).map((o) => [o.id, o.until.getTime() - now.getTime()])).toEqual([
      ['1d', DAY],
      ['1w', 7 * DAY],
    ]);
  });

  it.each<[Parameters<typeof resolveDefer>[0], string, string]>([
    [{ kind: '1d' }, 'UTC', '2026-03-03T14:30:00.000Z'],
    [{ kind: '1w' }, 'UTC', '2026-03-09T14:30:00.000Z'],
    [{ kind: 'date', date: '2026-03-03' }, 'UTC', '2026-03-03T00:00:00.000Z'],
    [{ kind: 'date', date: '2026-04-01' }, 'Europe/Berlin', '2026-03-31T22:00:00.000Z'],
  ])('%o in %s -> %s', (choice, tz, iso) => {
    expect(resolveDefer(choice, now, tz).toISOString()).toBe(iso);
  });

  it.each([
    ['2026-03-02', /not in the future/],
    ['2026-02-01', /not in the future/],
    ['2026-02-30', /not a date/],
    ['tomorrow', /not a date/],
    ['2028-01-01', /at most 365 days/],
  ])('refuses %s', (date, message) => {
    expect(() => resolveDefer({ kind: 'date', date }, now)).toThrow(message);
  });
});
