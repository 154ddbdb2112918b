import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../../src/core/errors.js';
import {
  ApprovalRule,
  approvalState,
  canDecide,
  capAcceptanceExpiry,
  deferOptions,
  resolveDefer,
  selectApprovalRule,
  type ApprovalInput,
  type ApprovalRuleInput,
  type RecordedDecision,
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

const prodRule = rule({
  name: 'payments-prod',
  approvers: { users: ['U_ALICE', 'U_BOB', 'U_REQ'], groups: ['S_SRE'] },
  quorum: 2,
  approvalTtlMs: 24 * H,
});

function input(decisions: RecordedDecision[], over: Partial<ApprovalInput> = {}): ApprovalInput {
  return {
    rule: prodRule,
    scope: { team: 'payments', environments: ['production'] },
    requesterId: 'U_REQ',
    decisions,
    memberships: { U_CAROL: ['S_SRE'], U_DAVE: ['S_OTHER'] },
    now,
    ...over,
  };
}
const approve = (actorId: string, at: Date, extra: Partial<RecordedDecision> = {}): RecordedDecision => ({
  actorId,
  kind: 'approve',
  at,
  ...extra,
});

describe('approvalState', () => {
  it.each<[string, RecordedDecision[], string, number, string[], string[]]>([
    ['no decisions', [], 'pending', 2, [], []],
    ['one approval', [approve('U_ALICE', ago(H))], 'pending', 1, ['U_ALICE'], []],
    [
      'two distinct approvers',
      [approve('U_ALICE', ago(H)), approve('U_BOB', ago(H / 2))],
      'approved',
      0,
      ['U_ALICE', 'U_BOB'],
      [],
    ],
    [
      'group member counts',
      [approve('U_ALICE', ago(H)), approve('U_CAROL', ago(H))],
      'approved',
      0,
      ['U_ALICE', 'U_CAROL'],
      [],
    ],
    [
      'same person twice counts once',
      [approve('U_ALICE', ago(2 * H)), approve('U_ALICE', ago(H))],
      'pending',
      1,
      ['U_ALICE'],
      [],
    ],
    [
      'requester approval ignored',
      [approve('U_REQ', ago(H)), approve('U_ALICE', ago(H))],
      'pending',
      1,
      ['U_ALICE'],
      [],
    ],
    [
      'non-approver ignored',
      [approve('U_DAVE', ago(H)), approve('U_ALICE', ago(H))],
      'pending',
      1,
      ['U_ALICE'],
      [],
    ],
    [
      'expired by TTL',
      [approve('U_ALICE', ago(25 * H)), approve('U_BOB', ago(H))],
      'pending',
      1,
      ['U_BOB'],
      ['U_ALICE'],
    ],
    [
      'expired by stored expiry',
      [approve('U_ALICE', ago(H), { expiresAt: ago(1) }), approve('U_BOB', ago(H))],
      'pending',
      1,
      ['U_BOB'],
      ['U_ALICE'],
    ],
    [
      're-approval after expiry counts',
      [approve('U_ALICE', ago(30 * H)), approve('U_ALICE', ago(H)), approve('U_BOB', ago(H))],
      'approved',
      0,
      ['U_ALICE', 'U_BOB'],
      [],
    ],
    [
      'revoked approval ignored',
      [approve('U_ALICE', ago(H), { revokedAt: ago(1) }), approve('U_BOB', ago(H))],
      'pending',
      1,
      ['U_BOB'],
      [],
    ],
    [
      'other kinds do not count',
      [{ actorId: 'U_ALICE', kind: 'defer', at: ago(H) }, approve('U_BOB', ago(H))],
      'pending',
      1,
      ['U_BOB'],
      [],
    ],
  ])('%s', (_name, decisions, status, needed, valid, expired) => {
    const s = approvalState(input(decisions));
    expect(s.status).toBe(status);
    expect(s.needed).toBe(needed);
    expect(s.validApprovals.map((d) => d.actorId)).toEqual(valid);
    expect(s.expired.map((d) => d.actorId)).toEqual(expired);
  });

  it('a reject by an approver rejects, even after enough approvals', () => {
    const s = approvalState(
      input([
        approve('U_ALICE', ago(3 * H)),
        approve('U_BOB', ago(2 * H)),
        { actorId: 'U_CAROL', kind: 'reject', at: ago(H) },
      ]),
    );
    expect(s.status).toBe('rejected');
    expect(s.rejectedBy?.actorId).toBe('U_CAROL');
    expect(s.needed).toBe(0);
  });

  it('a reject by a non-approver does not reject', () => {
    const s = approvalState(input([{ actorId: 'U_DAVE', kind: 'reject', at: ago(H) }]));
    expect(s.status).toBe('pending');
    expect(s.ignored[0]?.reason).toMatch(/not an approver/);
  });

  it('self-approval counts when the rule allows it', () => {
    const s = approvalState(
      input([approve('U_REQ', ago(H)), approve('U_ALICE', ago(H))], {
        rule: { ...prodRule, noSelfApproval: false },
      }),
    );
    expect(s.status).toBe('approved');
  });

  it('an approval falls out when its TTL passes (same decisions, later clock)', () => {
    const decisions = [approve('U_ALICE', ago(2 * H)), approve('U_BOB', ago(H))];
    const s1 = approvalState(input(decisions));
    expect(s1.status).toBe('approved');
    expect(s1.expiresAt).toEqual(new Date(ago(2 * H).getTime() + 24 * H));
    const s2 = approvalState(input(decisions, { now: new Date(s1.expiresAt!.getTime()) }));
    expect(s2.status).toBe('pending');
    expect(s2.expired.map((d) => d.actorId)).toEqual(['U_ALICE']);
  });
});

describe('canDecide', () => {
  it.each<[string, string, RecordedDecision[], 'approve' | 'reject', true | string]>([
    ['approver with nothing recorded', 'U_ALICE', [], 'approve', true],
    ['group member', 'U_CAROL', [], 'approve', true],
    ['requester', 'U_REQ', [], 'approve', 'You requested this change, so you cannot approve it'],
    ['outsider', 'U_DAVE', [], 'approve', 'You are not an approver for team payments in production'],
    ['unknown person', 'U_ZED', [], 'reject', 'You are not an approver for team payments in production'],
    [
      'double approval',
      'U_ALICE',
      [approve('U_ALICE', new Date('2026-03-02T14:02:00Z'))],
      'approve',
      'You already approved this change at 14:02 UTC',
    ],
    [
      'approval yesterday',
      'U_ALICE',
      [approve('U_ALICE', new Date('2026-03-01T20:15:00Z'))],
      'approve',
      'You already approved this change on 2026-03-01 at 20:15 UTC',
    ],
    ['expired approval may approve again', 'U_ALICE', [approve('U_ALICE', ago(48 * H))], 'approve', true],
    [
      'already approved by others',
      'U_CAROL',
      [approve('U_ALICE', ago(H)), approve('U_BOB', ago(H))],
      'approve',
      'This change already has the approvals it needs (2 of 2)',
    ],
    ['requester may withdraw by rejecting', 'U_REQ', [], 'reject', true],
    [
      'after a reject',
      'U_ALICE',
      [{ actorId: 'U_BOB', actorName: 'Bob', kind: 'reject', at: new Date('2026-03-02T13:00:00Z') }],
      'approve',
      'This change was already rejected by Bob at 13:00 UTC',
    ],
  ])('%s', (_name, actor, decisions, kind, expected) => {
    const r = canDecide(input(decisions), actor, kind);
    if (expected === true) expect(r).toEqual({ allowed: true });
    else expect(r).toEqual({ allowed: false, reason: expected });
  });

  it('shows times in the given zone and names every environment', () => {
    const r = canDecide(
      input([approve('U_ALICE', new Date('2026-03-02T14:02:00Z'))], { timeZone: 'Europe/Berlin' }),
      'U_ALICE',
    );
    expect(r).toEqual({ allowed: false, reason: 'You already approved this change at 15:02' });
    const r2 = canDecide(
      input([], { scope: { team: 'payments', environments: ['staging', 'production'] } }),
      'U_DAVE',
    );
    expect(r2).toEqual({
      allowed: false,
      reason: 'You are not an approver for team payments in staging or production',
    });
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
