import { describe, expect, it } from 'vitest';
import { ApprovalRule } from '../../../src/core/policy/approval.js';
import {
  ledgerState,
  propose,
  refusalOf,
  type LedgerEntry,
  type LedgerPolicy,
  type Proposal,
} from '../../../src/core/policy/ledger.js';

const H = 3_600_000;
const now = new Date('2026-03-02T14:30:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

const rule = ApprovalRule.parse({
  name: 'payments-prod',
  approvers: { users: ['U_ALICE', 'U_BOB', 'U_REQ'], groups: ['S_SRE'] },
  quorum: 2,
  approvalTtlMs: 24 * H,
});

function policy(over: Partial<LedgerPolicy> = {}): LedgerPolicy {
  const groups: Record<string, string[]> = { U_CAROL: ['S_SRE'], U_DAVE: ['S_OTHER'], U_INV: ['S_ONCALL'] };
  return {
    rule,
    emergency: { enabled: true, invokers: { users: ['U_ALICE'], groups: ['S_ONCALL'] }, quorum: 1 },
    scope: { team: 'payments', environments: ['production'] },
    groupsOf: (id) => groups[id] ?? [],
    ...over,
  };
}

const e = (kind: string, actorId: string, at: Date, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  kind,
  actorId,
  round: 1,
  at,
  ...extra,
});
const approve = (actorId: string, at: Date, extra: Partial<LedgerEntry> = {}) =>
  e('approve', actorId, at, extra);

describe('ledgerState', () => {
  it.each<[string, LedgerEntry[], number, string, number, string[], string | undefined]>([
    ['no decisions', [], 1, 'pending', 2, [], undefined],
    ['one approval', [approve('U_ALICE', ago(H))], 1, 'pending', 1, ['U_ALICE'], undefined],
    [
      'quorum met',
      [approve('U_ALICE', ago(H)), approve('U_BOB', ago(H / 2))],
      1,
      'approved',
      0,
      ['U_ALICE', 'U_BOB'],
      undefined,
    ],
    [
      'a group member counts',
      [approve('U_ALICE', ago(H)), approve('U_CAROL', ago(H))],
      1,
      'approved',
      0,
      ['U_ALICE', 'U_CAROL'],
      undefined,
    ],
    [
      'a non-approver counts for nothing',
      [approve('U_DAVE', ago(H)), approve('U_ALICE', ago(H))],
      1,
      'pending',
      1,
      ['U_ALICE'],
      undefined,
    ],
    [
      'the requester counts for nothing',
      [e('request', 'U_REQ', ago(2 * H)), approve('U_REQ', ago(H)), approve('U_ALICE', ago(H))],
      1,
      'pending',
      1,
      ['U_ALICE'],
      undefined,
    ],
    [
      'a request after an approval voids that approval',
      [approve('U_REQ', ago(2 * H)), e('request', 'U_REQ', ago(H)), approve('U_ALICE', ago(H))],
      1,
      'pending',
      1,
      ['U_ALICE'],
      undefined,
    ],
    [
      'earlier rounds count for nothing',
      [approve('U_ALICE', ago(2 * H)), approve('U_BOB', ago(H), { round: 2 })],
      2,
      'pending',
      1,
      ['U_BOB'],
      undefined,
    ],
    [
      'the round lapses when its oldest approval expires',
      [approve('U_ALICE', ago(25 * H)), approve('U_BOB', ago(H))],
      1,
      'pending',
      2,
      [],
      'approvals expired',
    ],
    [
      'a stored expiry counts too',
      [approve('U_ALICE', ago(H), { expiresAt: ago(1) })],
      1,
      'pending',
      2,
      [],
      'approvals expired',
    ],
    [
      'a revoked approval counts for nothing',
      [approve('U_ALICE', ago(H), { revokedAt: ago(1) }), approve('U_BOB', ago(H))],
      1,
      'pending',
      1,
      ['U_BOB'],
      undefined,
    ],
    [
      'a deferral holds',
      [e('defer', 'U_BOB', ago(H), { deferUntil: new Date(now.getTime() + H) })],
      1,
      'deferred',
      2,
      [],
      undefined,
    ],
    [
      'an approval after a deferral overrides it',
      [
        e('defer', 'U_BOB', ago(2 * H), { deferUntil: new Date(now.getTime() + H) }),
        approve('U_ALICE', ago(H)),
      ],
      1,
      'pending',
      1,
      ['U_ALICE'],
      undefined,
    ],
    [
      'a deferral that ended lapses the round',
      [e('defer', 'U_BOB', ago(2 * H), { deferUntil: ago(1) })],
      1,
      'pending',
      2,
      [],
      'the deferral ended',
    ],
  ])('%s', (_name, entries, round, status, needed, counted, lapsed) => {
    const s = ledgerState(entries, round, policy(), now);
    expect(s.status).toBe(status);
    expect(s.needed).toBe(needed);
    expect(s.approvals.map((a) => a.actorId)).toEqual(counted);
    expect(s.lapsed).toBe(lapsed);
  });

  it('counts one approval per person however many rows the round has', () => {
    // Rows the unique index would refuse, as if written around the lock: still one person, once.
    const rows = Array.from({ length: 8 }, () => approve('U_ALICE', ago(H)));
    const s = ledgerState(rows, 1, policy(), now);
    expect(s.approvals).toHaveLength(1);
    expect(s.status).toBe('pending');
  });

  it('a reject or an accepted risk by an approver closes the change whatever the approvals', () => {
    const approved = [approve('U_ALICE', ago(3 * H)), approve('U_BOB', ago(2 * H))];
    expect(ledgerState([...approved, e('reject', 'U_CAROL', ago(H))], 1, policy(), now)).toMatchObject({
      status: 'rejected',
      closedBy: { actorId: 'U_CAROL' },
    });
    expect(ledgerState([e('accept_risk', 'U_BOB', ago(H))], 1, policy(), now).status).toBe('accepted_risk');
    // by someone who is not an approver: nothing
    expect(ledgerState([e('reject', 'U_DAVE', ago(H))], 1, policy(), now).status).toBe('pending');
  });

  it('an emergency request brings the lane quorum; a normal one keeps the rule', () => {
    const emergency = ledgerState(
      [e('request', 'U_INV', ago(2 * H), { emergency: true }), approve('U_ALICE', ago(H))],
      1,
      policy(),
      now,
    );
    expect(emergency).toMatchObject({ status: 'approved', quorum: 1, emergency: true });
    const normal = ledgerState(
      [e('request', 'U_INV', ago(2 * H)), approve('U_ALICE', ago(H))],
      1,
      policy(),
      now,
    );
    expect(normal).toMatchObject({ status: 'pending', quorum: 2, emergency: false });
  });
});

describe('propose', () => {
  const open = { status: 'pending', round: 1 };
  const ask = (p: Partial<Proposal> & Pick<Proposal, 'kind' | 'actorId'>) => p;

  it.each<[string, LedgerEntry[], { status: string; round: number }, Proposal, string]>([
    [
      'an outsider',
      [],
      open,
      ask({ kind: 'approve', actorId: 'U_DAVE' }),
      'You are not an approver for team payments in production',
    ],
    [
      'a double approval',
      [approve('U_ALICE', new Date('2026-03-02T14:02:00Z'))],
      open,
      ask({ kind: 'approve', actorId: 'U_ALICE' }),
      'You already approved this change at 14:02 UTC',
    ],
    [
      'the requester',
      [e('request', 'U_REQ', ago(H))],
      open,
      ask({ kind: 'approve', actorId: 'U_REQ' }),
      'You requested this change, so you cannot approve it',
    ],
    [
      'a third approval',
      [approve('U_ALICE', ago(H)), approve('U_BOB', ago(H))],
      open,
      ask({ kind: 'approve', actorId: 'U_CAROL' }),
      'This change already has the approvals it needs (2 of 2)',
    ],
    [
      'anything after a reject',
      [e('reject', 'U_BOB', new Date('2026-03-02T13:00:00Z'), { actorName: 'Bob' })],
      { status: 'rejected', round: 1 },
      ask({ kind: 'approve', actorId: 'U_ALICE' }),
      'This change is rejected',
    ],
    [
      'a reject that the status does not show yet',
      [e('reject', 'U_BOB', new Date('2026-03-02T13:00:00Z'), { actorName: 'Bob' })],
      open,
      ask({ kind: 'approve', actorId: 'U_ALICE' }),
      'This change was already rejected by Bob at 13:00 UTC',
    ],
    [
      'a change being deployed',
      [],
      { status: 'deploying', round: 1 },
      ask({ kind: 'reject', actorId: 'U_ALICE', reason: 'x' }),
      'This change is being deployed',
    ],
    [
      'a reject without a reason',
      [],
      open,
      ask({ kind: 'reject', actorId: 'U_ALICE', reason: '  ' }),
      'A rejection needs a reason',
    ],
    [
      'a second request',
      [e('request', 'U_BOB', new Date('2026-03-02T12:00:00Z'), { actorName: 'Bob' })],
      open,
      ask({ kind: 'request', actorId: 'U_DAVE' }),
      'This change was already requested by Bob at 12:00 UTC',
    ],
    [
      'a request by someone who approved',
      [approve('U_ALICE', ago(H))],
      open,
      ask({ kind: 'request', actorId: 'U_ALICE' }),
      'You approved this change, and a requester cannot approve their own change: ask someone else to request it',
    ],
    [
      'an emergency request by a non-invoker',
      [],
      open,
      ask({ kind: 'request', actorId: 'U_BOB', emergency: true }),
      'You may not invoke the emergency lane for team payments (approval.emergency.invokers)',
    ],
    [
      'a deferral into the past',
      [],
      open,
      ask({ kind: 'defer', actorId: 'U_BOB', deferUntil: ago(1) }),
      'A deferral needs a date in the future',
    ],
  ])('refuses %s', (_name, entries, change, proposal, reason) => {
    const v = propose(entries, change, policy(), proposal, now);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toBe(reason);
  });

  it('an emergency request needs the lane on and the change eligible', () => {
    const p = ask({ kind: 'request', actorId: 'U_INV', emergency: true });
    const off = propose([], open, policy({ emergency: { ...policy().emergency, enabled: false } }), p, now);
    expect(off).toMatchObject({
      ok: false,
      reason: 'The emergency lane is off in the policy (approval.emergency)',
    });
    const ineligible = propose(
      [],
      open,
      policy({ emergency: { ...policy().emergency, ineligible: 'not KEV' } }),
      p,
      now,
    );
    expect(ineligible).toMatchObject({
      ok: false,
      reason: 'This change cannot use the emergency lane: not KEV',
    });
    const ok = propose([], open, policy(), p, now);
    expect(ok).toMatchObject({ ok: true, entry: { kind: 'request', emergency: true }, after: { quorum: 1 } });
  });

  it('approves exactly when the new row meets the quorum, and times the row with the given clock', () => {
    const first = propose([], open, policy(), ask({ kind: 'approve', actorId: 'U_ALICE' }), now);
    expect(first).toMatchObject({ ok: true, round: 1, after: { status: 'pending', needed: 1 } });
    if (!first.ok) return;
    expect(first.entry.at).toBe(now);
    expect(first.entry.expiresAt).toEqual(new Date(now.getTime() + 24 * H));
    const second = propose([first.entry], open, policy(), ask({ kind: 'approve', actorId: 'U_CAROL' }), now);
    expect(second).toMatchObject({ ok: true, after: { status: 'approved', needed: 0 } });
  });

  it('opens a new round when the last one lapsed, and approvals of the old one stop counting', () => {
    const old = [approve('U_ALICE', ago(30 * H))];
    const v = propose(
      old,
      { status: 'pending', round: 1 },
      policy(),
      ask({ kind: 'approve', actorId: 'U_ALICE' }),
      now,
    );
    expect(v).toMatchObject({
      ok: true,
      round: 2,
      before: { round: 2, approvals: [] },
      after: { approvals: [{ actorId: 'U_ALICE', round: 2 }] },
    });
    // an approved change whose approvals expired before its deployment takes decisions again
    const approved = [approve('U_ALICE', ago(30 * H)), approve('U_BOB', ago(29 * H))];
    const again = propose(
      approved,
      { status: 'approved', round: 1 },
      policy(),
      ask({ kind: 'approve', actorId: 'U_BOB' }),
      now,
    );
    expect(again).toMatchObject({ ok: true, round: 2, after: { status: 'pending', needed: 1 } });
  });

  it('flags a same-person same-round repeat as a duplicate (a double click)', () => {
    const v = propose(
      [approve('U_ALICE', ago(1000))],
      open,
      policy(),
      ask({ kind: 'approve', actorId: 'U_ALICE' }),
      now,
    );
    expect(v).toMatchObject({ ok: false, duplicate: true });
  });
});

describe('refusalOf (before a dialog opens)', () => {
  it('checks the person and the change, not what they will type', () => {
    expect(
      refusalOf([], { status: 'pending', round: 1 }, policy(), 'reject', 'U_ALICE', now),
    ).toBeUndefined();
    expect(refusalOf([], { status: 'pending', round: 1 }, policy(), 'defer', 'U_DAVE', now)).toBe(
      'You are not an approver for team payments in production',
    );
    expect(
      refusalOf([], { status: 'pending', round: 1 }, policy(), 'request', 'U_DAVE', now),
    ).toBeUndefined();
  });
});

describe('the change advisory board decides (approval.itsm: only)', () => {
  const cab = { actorId: 'servicenow:cab', where: 'ServiceNow CHG0031234' };
  const open = { status: 'pending', round: 1 };
  const requested = [e('request', 'U_REQ', ago(H))];

  it("counts only the CAB's approval, and it alone is the quorum (emergency lane too)", () => {
    const chat = ledgerState(
      [...requested, approve('U_ALICE', ago(H)), approve('U_BOB', ago(H))],
      1,
      policy({ cab }),
      now,
    );
    expect(chat).toMatchObject({ status: 'pending', quorum: 1, needed: 1, approvals: [] });
    expect(chat.ignored.map((i) => i.reason)).toEqual([
      'approvals come from the CAB in ServiceNow CHG0031234',
      'approvals come from the CAB in ServiceNow CHG0031234',
    ]);
    const emergency = [e('request', 'U_ALICE', ago(H), { emergency: true })];
    for (const entries of [requested, emergency]) {
      const v = propose(entries, open, policy({ cab }), { kind: 'approve', actorId: cab.actorId }, now);
      expect(v.ok && v.after).toMatchObject({ status: 'approved', quorum: 1, needed: 0 });
    }
  });

  it('refuses approvals and deferrals by people, naming the record; takes rejections', () => {
    const p = policy({ cab });
    const refused = (x: Proposal) => {
      const v = propose(requested, open, p, x, now);
      return v.ok ? undefined : v.reason;
    };
    expect(refused({ kind: 'approve', actorId: 'U_ALICE' })).toBe(
      'Approvals of this change come from the CAB in ServiceNow CHG0031234 (approval.itsm: only)',
    );
    expect(refusalOf(requested, open, p, 'defer', 'U_ALICE', now)).toContain(
      'The CAB in ServiceNow CHG0031234 decides when this change is deployed',
    );
    expect(refused({ kind: 'reject', actorId: 'U_ALICE', reason: 'window moved' })).toBeUndefined();
    expect(refused({ kind: 'defer', actorId: cab.actorId, deferUntil: new Date(now.getTime() + H) })).toBe(
      'The CAB only approves or rejects changes',
    );
    // the CAB's approval once: a second one is a duplicate
    const twice = propose(
      [...requested, approve(cab.actorId, ago(1000))],
      { status: 'approved', round: 1 },
      p,
      { kind: 'approve', actorId: cab.actorId },
      now,
    );
    expect(twice).toMatchObject({ ok: false, duplicate: true });
  });
});
