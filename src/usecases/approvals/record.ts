/**
 * Recording a decision (request, approve, reject, defer, accept risk) from any surface: the
 * change's ledger is appended to in one transaction under its row lock, timed by the database's
 * clock, with the change's new state computed from the rows the transaction sees
 * (core/policy/ledger `propose`). Then, outside the transaction: the campaign messages are
 * refreshed, the thread says who did what, and a change that just became approved is handed to the
 * deployment scheduler.
 */
import { changeLabel, isoDay, notice, type NoticeView } from '../../bot/views/index.js';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import { capAcceptanceExpiry, describeTime } from '../../core/policy/approval.js';
import { propose, type LedgerKind, type LedgerState, type Verdict } from '../../core/policy/ledger.js';
import type { PlatformName } from '../../bot/chat-platform.js';
import {
  DuplicateDecisionError,
  type ChangeDetail,
  type ChangeStatus,
  type LedgerWrite,
} from '../../db/repositories/change-repository.js';
import type { ApprovalsContext } from './context.js';
import type { CampaignMessenger, DecisionActor } from './ports.js';
import { ledgerOf, ruleFor } from './rules.js';

export type DecisionKind = LedgerKind;

export interface DecideInput {
  changeRef: string;
  kind: DecisionKind;
  actor: DecisionActor & { platform?: PlatformName };
  /** reject, accept risk: required; defer, request: optional. */
  reason?: string;
  /** defer: until when. */
  deferUntil?: Date;
  /** accept_risk: requested expiry (capped by the policy). */
  expires?: Date;
  /** request: for the emergency lane. */
  emergency?: boolean;
}

export type DecideResult =
  | { outcome: 'recorded'; change: ChangeDetail; message: string; approved: boolean }
  | { outcome: 'duplicate'; change: ChangeDetail; message: string }
  | { outcome: 'refused'; change: ChangeDetail; message: string };

type Decided =
  | { verdict: Extract<Verdict, { ok: true }>; note: string; capped?: { expiresAt: Date; note?: string } }
  | { refused: string; duplicate: boolean };

/** What the ledger transaction writes for an accepted decision, with the final values audited. */
function writeFor(
  input: DecideInput,
  locked: ChangeDetail,
  verdict: Extract<Verdict, { ok: true }>,
  rule: string,
  reason: string | undefined,
  capped: { expiresAt: Date; capped: boolean } | undefined,
): LedgerWrite {
  const { entry, after } = verdict;
  const status: ChangeStatus = after.status;
  const a = input.actor;
  return {
    decision: {
      kind: input.kind,
      actorId: a.id,
      ...(a.display ? { actorDisplay: a.display } : {}),
      surface: a.surface,
      ...(reason ? { reason } : {}),
      ...(entry.expiresAt ? { expiresAt: entry.expiresAt } : {}),
      ...(capped ? { expiresAt: capped.expiresAt } : {}),
      ...(entry.deferUntil ? { deferUntil: entry.deferUntil } : {}),
      ...(entry.emergency ? { emergency: true } : {}),
      round: verdict.round,
    },
    change: {
      status,
      round: verdict.round,
      approvalsRequired: after.quorum,
      ...(input.kind === 'request'
        ? { requestedBy: a.id, requestedVia: a.surface, emergency: entry.emergency === true }
        : {}),
    },
    ...(input.kind === 'defer' && entry.deferUntil
      ? { findings: { status: 'deferred' as const, until: entry.deferUntil } }
      : {}),
    ...(input.kind === 'accept_risk' && capped
      ? {
          findings: { status: 'accepted' as const, until: capped.expiresAt },
          riskAcceptance: { reason: reason ?? '', owner: a.id, expiresAt: capped.expiresAt },
        }
      : {}),
    audit: {
      actor: a.id,
      ...(a.display ? { actorDisplay: a.display } : {}),
      surface: a.surface,
      action: `decision.${input.kind}`,
      details: {
        rule,
        round: verdict.round,
        ...(verdict.newRound ? { newRound: verdict.newRound } : {}),
        statusBefore: locked.status,
        status,
        quorum: after.quorum,
        approvals: after.approvals.map((e) => e.actorId),
        requestedBy: after.request?.actorId ?? null,
        emergency: after.emergency,
        ...(reason ? { reason } : {}),
        ...(entry.deferUntil ? { until: entry.deferUntil.toISOString() } : {}),
        ...(capped ? { expiresAt: capped.expiresAt.toISOString(), capped: capped.capped } : {}),
      },
    },
  };
}

/** "2 of 2: approved" after an approval. */
function countNote(after: LedgerState): string {
  const approved = after.status === 'approved';
  return `${approved ? after.quorum : after.approvals.length} of ${after.quorum}${approved ? ': approved' : ''}`;
}

/** What the thread says after a decision. */
function decisionLine(change: ChangeDetail, input: DecideInput, d: Extract<Decided, { verdict: unknown }>) {
  const label = changeLabel({ changeId: change.id, changeNumber: change.number });
  const who = input.actor.display ?? input.actor.id;
  const { after } = d.verdict;
  switch (input.kind) {
    case 'request': {
      const lane = after.emergency ? ' for the emergency lane' : '';
      const state =
        after.status === 'approved' ? 'approved' : `${after.approvals.length} of ${after.quorum} approvals`;
      return notice('info', `Rollout of ${label} requested by ${who}${lane} (${state})`, d.note || undefined);
    }
    case 'approve':
      return notice('success', `${label} approved by ${who} (${countNote(after)})`);
    case 'reject':
      return notice('warning', `${label} rejected by ${who}`, d.note);
    case 'defer':
      return notice('info', `${label} deferred by ${who}${d.note}`);
    case 'accept_risk':
      return notice('warning', `Risk of ${label} accepted by ${who}`, d.note);
  }
}

export async function recordDecision(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
  input: DecideInput,
): Promise<DecideResult> {
  const { repos } = ctx;
  const change = await repos.changes.get(input.changeRef);
  const groupsOf = await ctx.groupsFor(change);
  const cabRecord = await ctx.cabRecordOf(change.id);
  const reason = input.reason?.trim() === '' ? undefined : input.reason?.trim();
  let outcome;
  try {
    outcome = await repos.changes.transact<Decided>(change.id, (locked, now) => {
      const policy = ctx.ledgerPolicyFor(locked, groupsOf, cabRecord);
      const verdict = propose(
        ledgerOf(locked),
        locked,
        policy,
        {
          kind: input.kind,
          actorId: input.actor.id,
          ...(input.actor.display ? { actorName: input.actor.display } : {}),
          ...(reason ? { reason } : {}),
          ...(input.deferUntil ? { deferUntil: input.deferUntil } : {}),
          ...(input.emergency ? { emergency: true } : {}),
        },
        now,
      );
      if (!verdict.ok) return { result: { refused: verdict.reason, duplicate: verdict.duplicate === true } };
      let capped: ReturnType<typeof capAcceptanceExpiry> | undefined;
      if (input.kind === 'accept_risk') {
        if (!input.expires)
          return { result: { refused: 'Accepting a risk needs an expiry date', duplicate: false } };
        try {
          capped = capAcceptanceExpiry(input.expires, ctx.policy.riskAcceptance.maxExpiryDays, now);
        } catch (err) {
          if (err instanceof PatchbotError) return { result: { refused: err.userMessage, duplicate: false } };
          throw err;
        }
      }
      const rule = ruleFor(ctx.policy, locked).rule.name;
      const note =
        input.kind === 'defer' && verdict.entry.deferUntil
          ? ` until ${describeTime(verdict.entry.deferUntil, now, ctx.tz).replace(/^(at|on) /, '')}`
          : input.kind === 'accept_risk' && capped
            ? `${reason ?? ''} (until ${isoDay(capped.expiresAt)}${capped.note ? `; ${capped.note}` : ''})`
            : (reason ?? '');
      return {
        write: writeFor(input, locked, verdict, rule, reason, capped),
        result: { verdict, note, ...(capped ? { capped } : {}) },
      };
    });
  } catch (err) {
    if (err instanceof DuplicateDecisionError)
      return { outcome: 'duplicate', change, message: 'Your decision was already recorded' };
    throw err;
  }
  const r = outcome.result;
  if ('refused' in r)
    return r.duplicate
      ? { outcome: 'duplicate', change: outcome.change, message: r.refused }
      : { outcome: 'refused', change: outcome.change, message: r.refused };

  const { before, after } = r.verdict;
  const approved = after.status === 'approved' && before.status !== 'approved';
  ctx.log.info(
    {
      change: outcome.change.number,
      kind: input.kind,
      actor: input.actor.id,
      status: outcome.change.status,
      round: r.verdict.round,
    },
    'decision recorded',
  );
  const line: NoticeView = decisionLine(outcome.change, input, r);
  await messenger.refresh(outcome.change.id);
  await messenger.reply(outcome.change.id, line);
  if (approved) await handOver(ctx, messenger, outcome.change, input.actor);
  return { outcome: 'recorded', change: outcome.change, message: line.text, approved };
}

/** An approved change goes to the deployment scheduler; its answer goes into the thread. */
export async function handOver(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
  change: ChangeDetail,
  actor: DecisionActor,
): Promise<void> {
  const port = ctx.deployments?.();
  const label = changeLabel({ changeId: change.id, changeNumber: change.number });
  if (!port) {
    await messenger.reply(
      change.id,
      notice(
        'info',
        `${label} is approved and waits for a deployment`,
        `Start it with \`patchbot deploy start ${change.number}\`.`,
      ),
    );
    return;
  }
  try {
    const { summary } = await port.approved(change.id, actor);
    await messenger.reply(change.id, notice('info', summary));
  } catch (err) {
    const message = userMessageOf(err);
    ctx.log.warn(
      { change: change.number, err: message },
      'could not schedule the deployment of an approved change',
    );
    await messenger.reply(
      change.id,
      notice(
        'error',
        `${label} is approved, but its deployment could not be scheduled`,
        `${message}. Retry with \`patchbot deploy start ${change.number}\`.`,
      ),
    );
  }
  await messenger.refresh(change.id);
}
