/**
 * A change's decisions as a ledger, and the pure functions that read it: `ledgerState` says where
 * the decisions stand, `propose` says whether one more decision may be appended and what the
 * change becomes with it. Nothing here reads a clock or a database: the repository locks the
 * change's row, reads the database's clock and the ledger rows, calls `propose`, and appends what
 * it answers in the same transaction; every view derives its state from the same rows.
 *
 * The rules:
 * - Decisions belong to a **round**. A new round starts when the change waits for approval again:
 *   its approvals expired (the round's oldest counted approval is older than the rule's expiry) or
 *   its deferral ended. Approvals of earlier rounds no longer count. The ledger holds one decision of
 *   a kind per person and round (a unique index in the database), so a person counts once.
 * - A **request** (someone asks for the rollout) names the requester: with `noSelfApproval` their
 *   own approval is refused. An emergency request needs an invoker of the emergency lane and an
 *   eligible change, and the lane's own quorum then applies. A change nobody requested is approved
 *   directly by its approvers.
 * - **Approvals** count from the rule's approvers (users, or members of its groups), once per
 *   person and round; the change is approved exactly when they reach the quorum.
 * - A **reject** or an **accepted risk** by an approver closes the change; nothing is decided after.
 * - A **defer** holds the change until its date; an approval after it overrides it.
 * - With a **change advisory board** deciding (policy `approval.itsm: only`), approvals count only
 *   from the CAB's actor, and one suffices (the board's approval is the quorum); approvals and
 *   deferrals by people are refused, naming the record where the board decides. Requests,
 *   rejections and risk acceptances by approvers are taken as usual, and the CAB may reject too.
 */
import { describeTime, isApprover, type ApprovalRule, type ApproverSet } from './approval.js';

/** The decision kinds the ledger holds (deployment controls are audited, not decided). */
export const LEDGER_KINDS = ['request', 'approve', 'reject', 'defer', 'accept_risk'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

/** One ledger row. */
export interface LedgerEntry {
  kind: string;
  actorId: string;
  /** Shown in messages instead of the id when given. */
  actorName?: string;
  round: number;
  /** The database's clock when the row was appended. */
  at: Date;
  /** approve: when it stops counting (the rule's TTL applies too: the earlier wins). */
  expiresAt?: Date;
  /** defer: until when. */
  deferUntil?: Date;
  /** request: for the emergency lane. */
  emergency?: boolean;
  /** A withdrawn decision counts for nothing. */
  revokedAt?: Date;
}

/** What the policy says about one change, resolved for it (rule, lane, group memberships). */
export interface LedgerPolicy {
  rule: ApprovalRule;
  emergency: {
    enabled: boolean;
    /** Who may ask for the lane (approval.emergency.invokers, resolved). */
    invokers: ApproverSet;
    quorum: number;
    /** Why the change may not use the lane (its conditions), when it may not. */
    ineligible?: string;
  };
  /** For messages: "You are not an approver for team payments in production". */
  scope: { team: string; environments: readonly string[] };
  /** The groups a person is in (among the groups the rule and the lane name). */
  groupsOf: (actorId: string) => readonly string[];
  /** Time zone of times in messages (default UTC). */
  timeZone?: string;
  /**
   * The change advisory board approves this change instead of people (`approval.itsm: only`):
   * its actor, and where it decides ("ServiceNow CHG0031234"), for refusals.
   */
  cab?: { actorId: string; where: string };
}

export type LedgerStatus = 'pending' | 'approved' | 'deferred' | 'rejected' | 'accepted_risk';

export interface LedgerState {
  round: number;
  status: LedgerStatus;
  /** The change's request, when someone requested it. */
  request?: LedgerEntry;
  emergency: boolean;
  quorum: number;
  /** The approvals that count: this round's, one per person (the latest), oldest first. */
  approvals: LedgerEntry[];
  /** Approvals still missing (0 unless pending or deferred). */
  needed: number;
  /** When the round's approvals stop counting (the earliest counted approval's expiry). */
  expiresAt?: Date;
  /** This round is over: its approvals expired or its deferral ended; the next decision opens a new one. */
  lapsed?: 'approvals expired' | 'the deferral ended';
  /** The deferral in effect. */
  deferral?: LedgerEntry;
  /** The reject or risk acceptance that closed the change. */
  closedBy?: LedgerEntry;
  /** Rows that count for nothing, with why. */
  ignored: { entry: LedgerEntry; reason: string }[];
}

/** When an approval stops counting: the earlier of its stored expiry and its time plus the rule's TTL. */
export function approvalExpiry(rule: ApprovalRule, entry: Pick<LedgerEntry, 'at' | 'expiresAt'>): Date {
  const byTtl = entry.at.getTime() + rule.approvalTtlMs;
  const stored = entry.expiresAt?.getTime() ?? Infinity;
  return new Date(Math.min(byTtl, stored));
}

const inOrder = (entries: readonly LedgerEntry[]) =>
  entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at.getTime() - b.e.at.getTime() || a.i - b.i)
    .map((x) => x.e);

/** Where the decisions of `round` stand at `now`. */
export function ledgerState(
  entries: readonly LedgerEntry[],
  round: number,
  policy: LedgerPolicy,
  now: Date,
): LedgerState {
  const { rule } = policy;
  const ignored: LedgerState['ignored'] = [];
  const cab = policy.cab;
  const approver = (e: LedgerEntry) =>
    e.actorId === cab?.actorId || isApprover(rule, e.actorId, policy.groupsOf(e.actorId));
  let request: LedgerEntry | undefined;
  let closedBy: LedgerEntry | undefined;
  let deferral: LedgerEntry | undefined;
  const latest = new Map<string, LedgerEntry>();

  for (const e of inOrder(entries)) {
    if (!(LEDGER_KINDS as readonly string[]).includes(e.kind)) continue;
    if (e.revokedAt !== undefined && e.revokedAt.getTime() <= now.getTime()) {
      ignored.push({ entry: e, reason: 'revoked' });
      continue;
    }
    if (e.kind === 'request') {
      request ??= e;
      continue;
    }
    if (!approver(e)) {
      ignored.push({ entry: e, reason: 'not an approver under the current policy' });
      continue;
    }
    if (e.kind === 'reject' || e.kind === 'accept_risk') {
      closedBy ??= e;
      continue;
    }
    if (e.round !== round) {
      ignored.push({ entry: e, reason: `made in round ${e.round}, the change is in round ${round}` });
      continue;
    }
    if (e.kind === 'defer') {
      deferral = e;
      continue;
    }
    // approve
    if (cab && e.actorId !== cab.actorId) {
      ignored.push({ entry: e, reason: `approvals come from the CAB in ${cab.where}` });
      continue;
    }
    if (rule.noSelfApproval && request !== undefined && e.actorId === request.actorId) {
      ignored.push({ entry: e, reason: 'the requester cannot approve their own change' });
      continue;
    }
    latest.set(e.actorId, e);
    // An approval after a deferral overrides it.
    if (deferral && deferral.at.getTime() <= e.at.getTime()) deferral = undefined;
  }
  // A request made after someone's approval voids that approval (no self-approval).
  if (rule.noSelfApproval && request && latest.has(request.actorId)) {
    const e = latest.get(request.actorId) as LedgerEntry;
    latest.delete(request.actorId);
    ignored.push({ entry: e, reason: 'the requester cannot approve their own change' });
  }

  const emergency = request?.emergency === true && policy.emergency.enabled;
  const quorum = policy.cab ? 1 : emergency ? policy.emergency.quorum : rule.quorum;
  let approvals = [...latest.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
  const earliest = approvals
    .map((e) => approvalExpiry(rule, e).getTime())
    .reduce((a, b) => Math.min(a, b), Infinity);
  let lapsed: LedgerState['lapsed'];
  if (earliest <= now.getTime()) {
    lapsed = 'approvals expired';
    for (const e of approvals) ignored.push({ entry: e, reason: 'expired' });
    approvals = [];
  }
  if (deferral && deferral.deferUntil !== undefined && deferral.deferUntil.getTime() <= now.getTime()) {
    lapsed ??= 'the deferral ended';
    deferral = undefined;
  }
  const base = {
    round,
    ...(request ? { request } : {}),
    emergency,
    quorum,
    approvals,
    ...(approvals.length > 0 ? { expiresAt: new Date(earliest) } : {}),
    ...(lapsed ? { lapsed } : {}),
    ignored,
  };
  if (closedBy)
    return {
      ...base,
      status: closedBy.kind === 'reject' ? 'rejected' : 'accepted_risk',
      needed: 0,
      closedBy,
    };
  if (approvals.length >= quorum) return { ...base, status: 'approved', needed: 0 };
  const needed = quorum - approvals.length;
  if (deferral) return { ...base, status: 'deferred', needed, deferral };
  return { ...base, status: 'pending', needed };
}

/** A decision someone wants to record. */
export interface Proposal {
  kind: LedgerKind;
  actorId: string;
  actorName?: string;
  /** reject, accept_risk: why (required); defer, request: optional. */
  reason?: string;
  /** defer: until when (in the future). */
  deferUntil?: Date;
  /** request: for the emergency lane. */
  emergency?: boolean;
}

/** The change as the ledger's caller holds it (locked). */
export interface LedgerChange {
  /** The stored status: only pending, deferred and approved changes take decisions. */
  status: string;
  round: number;
}

export type Verdict =
  | {
      ok: false;
      reason: string;
      /** The same decision is already in the ledger (a double click): nothing to do. */
      duplicate?: boolean;
      /** Where the decisions stand (unchanged). */
      state: LedgerState;
    }
  | {
      ok: true;
      /** The row to append (`at` is `now`). */
      entry: LedgerEntry;
      /** The round the change is in after it (a new one when the last one lapsed). */
      round: number;
      /** Why a new round was opened (the last one's approvals expired, its deferral ended). */
      newRound?: NonNullable<LedgerState['lapsed']>;
      /** Where the decisions stand before and after the row. */
      before: LedgerState;
      after: LedgerState;
    };

/** Statuses in which a change takes decisions (the rest belong to deployments, or are closed). */
const OPEN = new Set(['pending', 'deferred', 'approved']);

const STATUS_WORDS: Record<string, string> = {
  approved: 'already approved',
  rejected: 'rejected',
  accepted_risk: 'closed: its risk was accepted',
  scheduled: 'already scheduled for deployment',
  deploying: 'being deployed',
  completed: 'already deployed',
  failed: 'closed: its deployment failed',
  halted: 'halted',
  rolled_back: 'rolled back',
  cancelled: 'cancelled',
  expired: 'expired',
  deferred: 'deferred',
};

/** "is already scheduled for deployment", for a refusal. */
export function statusWords(status: string): string {
  return STATUS_WORDS[status] ?? status.replaceAll('_', ' ');
}

function joinOr(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

interface Checked {
  round: number;
  newRound?: NonNullable<LedgerState['lapsed']>;
  before: LedgerState;
  /** The person's groups (among those the policy names). */
  groups: readonly string[];
}

/**
 * Everything about a decision that does not depend on what the person typed: the change takes
 * decisions, the person may make this one, it is not made already. A refusal reason, or the round
 * and state the decision would be made in.
 */
function check(
  entries: readonly LedgerEntry[],
  change: LedgerChange,
  policy: LedgerPolicy,
  kind: LedgerKind,
  actorId: string,
  now: Date,
): Checked | { reason: string; duplicate?: boolean; state: LedgerState } {
  let round = change.round;
  let before = ledgerState(entries, round, policy, now);
  const tz = policy.timeZone ?? 'UTC';
  const who = (d: LedgerEntry) => (d.actorId === actorId ? 'you' : (d.actorName ?? d.actorId));
  const when = (d: LedgerEntry) => describeTime(d.at, now, tz);
  const refuse = (reason: string, duplicate = false) => ({
    reason,
    ...(duplicate ? { duplicate } : {}),
    state: before,
  });
  if (!OPEN.has(change.status)) return refuse(`This change is ${statusWords(change.status)}`);
  if (before.closedBy) {
    const d = before.closedBy;
    return refuse(
      d.kind === 'reject'
        ? `This change was already rejected by ${who(d)} ${when(d)}`
        : `The risk of this change was already accepted by ${who(d)} ${when(d)}`,
    );
  }
  const newRound = before.lapsed;
  if (newRound) {
    round += 1;
    before = ledgerState(entries, round, policy, now);
  }
  const groups = policy.groupsOf(actorId);
  const mine = (k: string) => entries.find((e) => e.kind === k && e.actorId === actorId && e.round === round);
  const notApprover = () => {
    const envs = joinOr(policy.scope.environments);
    return refuse(`You are not an approver for team ${policy.scope.team}${envs ? ` in ${envs}` : ''}`);
  };
  const cab = policy.cab;
  const isCab = cab !== undefined && actorId === cab.actorId;
  const approver = isCab || isApprover(policy.rule, actorId, groups);
  if (cab && !isCab && (kind === 'approve' || kind === 'defer'))
    return refuse(
      kind === 'approve'
        ? `Approvals of this change come from the CAB in ${cab.where} (approval.itsm: only)`
        : `The CAB in ${cab.where} decides when this change is deployed (approval.itsm: only): it cannot be deferred here`,
    );
  if (isCab && kind !== 'approve' && kind !== 'reject')
    return refuse('The CAB only approves or rejects changes');
  switch (kind) {
    case 'request': {
      const r = before.request;
      if (r)
        return r.actorId === actorId
          ? refuse(`You already requested this change ${when(r)}`, true)
          : refuse(`This change was already requested by ${who(r)} ${when(r)}`);
      if (before.status === 'approved')
        return refuse('This change is already approved: there is nothing left to request');
      if (policy.rule.noSelfApproval && before.approvals.some((a) => a.actorId === actorId))
        return refuse(
          'You approved this change, and a requester cannot approve their own change: ask someone else to request it',
        );
      break;
    }
    case 'approve': {
      const already = before.approvals.find((a) => a.actorId === actorId);
      if (already) return refuse(`You already approved this change ${when(already)}`, true);
      if (!isCab && policy.rule.noSelfApproval && before.request?.actorId === actorId)
        return refuse('You requested this change, so you cannot approve it');
      if (!approver) return notApprover();
      if (before.status === 'approved')
        return refuse(
          `This change already has the approvals it needs (${before.approvals.length} of ${before.quorum})`,
        );
      // An approval of this round that stopped counting (the policy changed under it).
      if (mine('approve')) return refuse('Your approval in this round is already recorded', true);
      break;
    }
    case 'reject':
      if (!approver) return notApprover();
      break;
    case 'accept_risk':
    case 'defer': {
      if (!approver) return notApprover();
      if (before.status === 'approved') return refuse('This change is already approved');
      if (kind === 'accept_risk') break;
      const d = before.deferral;
      if (d)
        return refuse(
          `This change is already deferred by ${who(d)} until ${describeTime(d.deferUntil ?? now, now, tz).replace(/^(at|on) /, '')}`,
          d.actorId === actorId,
        );
      if (mine('defer')) return refuse('You already deferred this change in this round', true);
      break;
    }
  }
  return { round, before, groups, ...(newRound ? { newRound } : {}) };
}

/**
 * Why `actorId` may not make a decision of `kind` on the change now, or undefined when they may
 * (what they will type is checked by `propose`). For the buttons that open a dialog first.
 */
export function refusalOf(
  entries: readonly LedgerEntry[],
  change: LedgerChange,
  policy: LedgerPolicy,
  kind: LedgerKind,
  actorId: string,
  now: Date,
): string | undefined {
  const c = check(entries, change, policy, kind, actorId, now);
  return 'reason' in c ? c.reason : undefined;
}

/**
 * Whether `proposal` may be appended to the ledger of `change` at `now` (the database's clock,
 * read under the change's lock), and where the decisions stand with it. A refusal has a reason a
 * person can read.
 */
export function propose(
  entries: readonly LedgerEntry[],
  change: LedgerChange,
  policy: LedgerPolicy,
  proposal: Proposal,
  now: Date,
): Verdict {
  const c = check(entries, change, policy, proposal.kind, proposal.actorId, now);
  if ('reason' in c)
    return { ok: false, reason: c.reason, ...(c.duplicate ? { duplicate: true } : {}), state: c.state };
  const { round, before, groups, newRound } = c;
  const refuse = (reason: string): Verdict => ({ ok: false, reason, state: before });
  const entry: LedgerEntry = {
    kind: proposal.kind,
    actorId: proposal.actorId,
    ...(proposal.actorName ? { actorName: proposal.actorName } : {}),
    round,
    at: now,
  };
  const reason = (proposal.reason ?? '').trim();
  switch (proposal.kind) {
    case 'request': {
      if (!proposal.emergency) break;
      const lane = policy.emergency;
      if (!lane.enabled) return refuse('The emergency lane is off in the policy (approval.emergency)');
      if (lane.ineligible) return refuse(`This change cannot use the emergency lane: ${lane.ineligible}`);
      const invoker =
        lane.invokers.users.includes(proposal.actorId) ||
        groups.some((g) => lane.invokers.groups.includes(g));
      if (!invoker)
        return refuse(
          `You may not invoke the emergency lane for team ${policy.scope.team} (approval.emergency.invokers)`,
        );
      entry.emergency = true;
      break;
    }
    case 'approve':
      entry.expiresAt = new Date(now.getTime() + policy.rule.approvalTtlMs);
      break;
    case 'reject':
      if (reason === '') return refuse('A rejection needs a reason');
      break;
    case 'accept_risk':
      if (reason === '') return refuse('Accepting a risk needs a reason');
      break;
    case 'defer':
      if (!proposal.deferUntil || proposal.deferUntil.getTime() <= now.getTime())
        return refuse('A deferral needs a date in the future');
      entry.deferUntil = proposal.deferUntil;
      break;
  }
  const after = ledgerState([...entries, entry], round, policy, now);
  return { ok: true, entry, round, before, after, ...(newRound ? { newRound } : {}) };
}
