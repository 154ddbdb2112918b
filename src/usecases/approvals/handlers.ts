/**
 * What the campaign message's buttons, the decision dialogs and `/patch request|approve|reject` do.
 * A button that needs more from the person (request, reject, defer, accept risk) first checks
 * that they may decide at all, then opens its dialog; the decision itself is recorded by
 * `recordDecision` when the dialog comes back. Pause, resume, abort and roll back act on the
 * change's deployment for the change's approvers.
 */
import type { ApprovalHandlers } from '../../bot/handlers/index.js';
import type {
  ActionInput,
  ActionResult,
  ChatUser,
  CommandInput,
  SubmissionInput,
  SubmissionResult,
} from '../../bot/handlers.js';
import { changeLabel, isoDay, notice, type CampaignView, type NoticeView } from '../../bot/views/index.js';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import { describeTime, isApprover, resolveDefer } from '../../core/policy/approval.js';
import { refusalOf, type LedgerKind } from '../../core/policy/ledger.js';
import type { ChangeDetail } from '../../db/repositories/change-repository.js';
import type { ApprovalsContext } from './context.js';
import { campaignView } from './messenger.js';
import {
  DEPLOYMENT_CONTROLS,
  type CampaignMessenger,
  type DecisionActor,
  type DeploymentControl,
} from './ports.js';
import { recordDecision, type DecideInput, type DecideResult } from './record.js';
import { ledgerOf } from './rules.js';

const DAY_MS = 86_400_000;

export function actorOf(user: ChatUser): DecisionActor & { platform: ChatUser['platform'] } {
  return {
    id: user.id,
    ...(user.name ? { display: user.name } : {}),
    surface: user.platform,
    platform: user.platform,
  };
}

const refusal = (text: string): ActionResult => ({ type: 'notice', content: notice('warning', text) });

function resultNotice(r: DecideResult): NoticeView | undefined {
  if (r.outcome === 'recorded') return undefined;
  return notice(r.outcome === 'duplicate' ? 'info' : 'warning', r.message);
}

/** What the Details button shows: risk factors, advisories, every decision, the hosts. */
function details(ctx: ApprovalsContext, change: ChangeDetail, view: CampaignView): ActionResult {
  const factors = view.risk.topFactors.map(
    (f) => `${f.contribution >= 0 ? '+' : ''}${f.contribution.toFixed(1)} ${f.label}`,
  );
  const decisions = change.decisions.map(
    (d) =>
      `${d.kind === 'request' ? `${d.emergency ? 'emergency ' : ''}rollout request` : d.kind.replace('_', ' ')} by ${d.actorDisplay ?? d.actorId} ${describeTime(d.createdAt, ctx.now(), ctx.tz)}${d.reason ? `: ${d.reason}` : ''}`,
  );
  const hosts = change.findings
    .filter((f) => f.status !== 'fixed')
    .map(
      (f) =>
        `${f.hostName} (${f.environment}): ${f.packageName} ${f.installedVersion} → ${f.fixedVersion ?? 'no fix'} [${f.advisoryId}]`,
    );
  const detail = [
    `Risk ${view.risk.score} (${view.risk.band}): ${factors.join('; ') || 'no factors recorded'}`,
    `Advisories: ${view.advisories.join(', ') || '-'}`,
    `Decisions: ${decisions.join('; ') || 'none yet'}`,
    `Hosts (${hosts.length}): ${hosts.slice(0, 40).join('; ')}${hosts.length > 40 ? `; and ${hosts.length - 40} more` : ''}`,
  ].join('\n');
  return {
    type: 'notice',
    content: notice(
      'info',
      `${changeLabel(view)} ${view.package} → ${view.fixedVersion} (${change.status.replace('_', ' ')})`,
      detail,
    ),
  };
}

export function createApprovalHandlers(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
): ApprovalHandlers {
  const { repos } = ctx;
  const decide = (input: DecideInput) => recordDecision(ctx, messenger, input);

  /** Why the person may not make a decision of `kind` on the change now (before its dialog opens). */
  async function refusalFor(
    change: ChangeDetail,
    user: ChatUser,
    kind: LedgerKind,
  ): Promise<{ refusal?: string; emergency: boolean }> {
    const policy = ctx.ledgerPolicyFor(change, await ctx.groupsFor(change), await ctx.cabRecordOf(change.id));
    const r = refusalOf(ledgerOf(change), change, policy, kind, user.id, ctx.now());
    const emergency = policy.emergency.enabled && policy.emergency.ineligible === undefined;
    return r === undefined ? { emergency } : { refusal: r, emergency };
  }

  /** Pause, resume, abort, roll back: for the change's approvers (the same rule as Approve). */
  async function control(input: ActionInput, action: DeploymentControl): Promise<ActionResult> {
    const change = await repos.changes.get(input.changeId);
    const policy = ctx.ledgerPolicyFor(change, await ctx.groupsFor(change));
    if (!isApprover(policy.rule, input.user.id, policy.groupsOf(input.user.id))) {
      const envs = policy.scope.environments.join(' or ');
      return refusal(`You are not an approver for team ${policy.scope.team}${envs ? ` in ${envs}` : ''}`);
    }
    const port = ctx.deployments?.();
    if (!port) return refusal('Deployments are not running in this patchbot');
    const { message } = await port.control(change.id, action, actorOf(input.user));
    await messenger.refresh(change.id);
    await messenger.reply(change.id, notice('info', message, `by ${input.user.name ?? input.user.id}`));
    return { type: 'notice', content: notice('success', message) };
  }

  async function dialog(input: ActionInput, kind: 'request' | 'reject' | 'defer' | 'accept_risk') {
    const change = await repos.changes.get(input.changeId);
    const { refusal: why, emergency } = await refusalFor(change, input.user, kind);
    if (why) return refusal(why);
    const now = ctx.now();
    const title = `${changeLabel({ changeId: change.id, changeNumber: change.number })} ${change.packageName} → ${change.fixedVersion}`;
    switch (kind) {
      case 'request':
        return { type: 'modal', modal: { kind, changeId: change.id, title, emergency } } as const;
      case 'reject':
        return { type: 'modal', modal: { kind, changeId: change.id, title } } as const;
      case 'defer':
        return {
          type: 'modal',
          modal: {
            kind,
            changeId: change.id,
            title,
            maxDate: isoDay(new Date(now.getTime() + 365 * DAY_MS)),
          },
        } as const;
      case 'accept_risk': {
        const ra = ctx.policy.riskAcceptance;
        return {
          type: 'modal',
          modal: {
            kind,
            changeId: change.id,
            title,
            defaultExpiry: isoDay(
              new Date(now.getTime() + Math.min(ra.defaultExpiryDays, ra.maxExpiryDays) * DAY_MS),
            ),
            maxExpiry: isoDay(new Date(now.getTime() + ra.maxExpiryDays * DAY_MS)),
          },
        } as const;
      }
    }
  }

  return {
    async onAction(input: ActionInput): Promise<ActionResult> {
      const kind: string = input.kind;
      if ((DEPLOYMENT_CONTROLS as readonly string[]).includes(kind))
        return control(input, kind as DeploymentControl);
      switch (kind) {
        case 'details': {
          const change = await repos.changes.get(input.changeId);
          return details(ctx, change, await campaignView(ctx, change.id, ctx.now()));
        }
        case 'approve': {
          const r = await decide({ changeRef: input.changeId, kind: 'approve', actor: actorOf(input.user) });
          const n = resultNotice(r);
          return n ? { type: 'notice', content: n } : { type: 'done' };
        }
        case 'request':
        case 'reject':
        case 'defer':
        case 'accept_risk':
          return dialog(input, kind);
        default:
          return refusal(`patchbot does not know the button "${kind}"`);
      }
    },

    async onViewSubmission(input: SubmissionInput): Promise<SubmissionResult> {
      const s = input.submission;
      const actor = actorOf(input.user);
      let r: DecideResult;
      try {
        switch (s.kind) {
          case 'request':
            r = await decide({
              changeRef: s.changeId,
              kind: 'request',
              actor,
              emergency: s.emergency,
              ...(s.reason ? { reason: s.reason } : {}),
            });
            break;
          case 'reject':
            r = await decide({ changeRef: s.changeId, kind: 'reject', actor, reason: s.reason });
            break;
          case 'defer': {
            const until = resolveDefer(
              s.defer.kind === 'date'
                ? { kind: 'date', date: s.defer.date }
                : { kind: s.defer.days === 1 ? '1d' : '1w' },
              ctx.now(),
              ctx.tz,
            );
            r = await decide({
              changeRef: s.changeId,
              kind: 'defer',
              actor,
              deferUntil: until,
              ...(s.reason ? { reason: s.reason } : {}),
            });
            break;
          }
          case 'accept_risk': {
            const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.expires);
            const expires = m
              ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 23, 59, 59))
              : new Date(NaN);
            r = await decide({
              changeRef: s.changeId,
              kind: 'accept_risk',
              actor,
              reason: s.reason,
              expires,
            });
            break;
          }
        }
      } catch (err) {
        if (err instanceof PatchbotError && !err.transient)
          return { notice: notice('error', userMessageOf(err)) };
        throw err;
      }
      const n = resultNotice(r);
      return n ? { notice: n } : { notice: notice('success', r.message) };
    },

    async onCommand(input: CommandInput): Promise<void> {
      const c = input.command;
      if (c.kind !== 'approve' && c.kind !== 'reject' && c.kind !== 'request') return;
      const ref = 'number' in c.change ? String(c.change.number) : c.change.id;
      const actor = actorOf(input.user);
      if (c.kind === 'reject' && !c.reason) {
        await input.respond(
          notice('warning', 'A rejection needs a reason', `Type \`/patch reject ${ref} <reason>\`.`),
        );
        return;
      }
      try {
        const r = await decide(
          c.kind === 'approve'
            ? { changeRef: ref, kind: 'approve', actor }
            : c.kind === 'reject'
              ? { changeRef: ref, kind: 'reject', actor, reason: c.reason ?? '' }
              : {
                  changeRef: ref,
                  kind: 'request',
                  actor,
                  emergency: c.emergency,
                  ...(c.reason ? { reason: c.reason } : {}),
                },
        );
        await input.respond(resultNotice(r) ?? notice('success', r.message));
      } catch (err) {
        if (err instanceof PatchbotError && !err.transient) {
          await input.respond(notice(err.code === 'NOT_FOUND' ? 'warning' : 'error', userMessageOf(err)));
          return;
        }
        throw err;
      }
    },
  };
}
