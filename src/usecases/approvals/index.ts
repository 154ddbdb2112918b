/**
 * Approvals: what happens when a person presses Approve, Reject, Defer or Accept risk (or types
 * `/patch approve|reject`), on any chat platform.
 *
 * The approval policy (rules.ts -> core/policy/approval) decides who may decide and when a change
 * is approved; every decision is recorded under the change's row lock (ChangeRepository.decide) so
 * double and concurrent clicks record one decision; every decision is audited; the change's
 * messages on every platform are re-rendered from live state and the thread says who did what.
 * A change that becomes approved is handed to the deployment port (when there is one).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChatPlatform, MessageRef, PlatformName } from '../../bot/chat-platform.js';
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
import type { Policy } from '../../config/policy-schema.js';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import {
  approvalState,
  canDecide,
  capAcceptanceExpiry,
  describeTime,
  resolveDefer,
  type ApprovalInput,
  type ApproverSet,
  type RecordedDecision,
} from '../../core/policy/approval.js';
import type { Repositories } from '../../db/index.js';
import type { ChangeDetail, DecideOutcome, DecisionWrite } from '../../db/repositories/change-repository.js';
import { deploymentCampaignState } from '../deployments/chat.js';
import type { CampaignStore, CampaignViewFn } from '../notify.js';
import {
  DEPLOYMENT_CONTROLS,
  type CampaignMessenger,
  type DecisionActor,
  type DeploymentControl,
  type DeploymentPort,
} from './ports.js';
import { policySnapshot, ruleFor, type ResolvedRule } from './rules.js';
import { buildCampaignView, recorded } from './view.js';

export * from './ports.js';
export { ruleFor, resolveApprovers, environmentsOf } from './rules.js';
export { buildCampaignView, campaignStateOf, plannedRings } from './view.js';

const DAY_MS = 86_400_000;

export type ApprovalRepos = Pick<Repositories, 'changes' | 'hosts' | 'notifications' | 'deployments'>;

export interface ApprovalsDeps {
  repos: ApprovalRepos;
  policy: Pick<Policy, 'approval' | 'teams' | 'environments' | 'rings' | 'riskAcceptance'>;
  now: () => Date;
  logger: Logger;
  /** The chat platforms messages live on (edited and replied to on each). */
  platforms: () => readonly ChatPlatform[];
  /** Members of a user group (Slack user groups); without it only user ids count. */
  groupMembers?: (platform: PlatformName, groupId: string) => Promise<readonly string[]>;
  /** The deployment scheduler; without it an approved change waits, recorded as approved. */
  deployments?: () => DeploymentPort | undefined;
  /** Time zone of times in messages (default UTC). */
  timeZone?: string;
}

export interface Approvals {
  handlers: ApprovalHandlers;
  campaigns: CampaignStore;
  campaignView: CampaignViewFn;
  messenger: CampaignMessenger;
  /** Who may decide on a change now (for mentions when a deployment halts). */
  approversOf(changeId: string): Promise<ApproverSet>;
  /** Deferrals that ended and approvals that expired before a deployment: back to pending. */
  sweep(): Promise<{ reopened: number }>;
  /** Records a decision from any surface (the CLI uses it too). */
  decide(input: DecideInput): Promise<DecideResult>;
}

export type DecisionKind = 'approve' | 'reject' | 'defer' | 'accept_risk';

export interface DecideInput {
  changeRef: string;
  kind: DecisionKind;
  actor: DecisionActor & { platform?: PlatformName };
  reason?: string;
  /** defer: until when. */
  deferUntil?: Date;
  /** accept_risk: requested expiry. */
  expires?: Date;
}

export type DecideResult =
  | { outcome: 'recorded'; change: ChangeDetail; message: string; approved: boolean }
  | { outcome: 'duplicate'; change: ChangeDetail; message: string }
  | { outcome: 'refused'; change: ChangeDetail; message: string };

/** Statuses in which a decision can still be made. */
const OPEN_FOR_DECISION = new Set(['pending', 'deferred', 'approved']);

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

function actorOf(user: ChatUser): DecisionActor & { platform: PlatformName } {
  return {
    id: user.id,
    ...(user.name ? { display: user.name } : {}),
    surface: user.platform,
    platform: user.platform,
  };
}

/** Hash of what a view shows, without the moment it was built ("due in" is re-derived daily). */
function renderHash(view: CampaignView): string {
  const { asOf, ...rest } = view;
  return createHash('sha256')
    .update(JSON.stringify({ ...rest, day: isoDay(asOf) }))
    .digest('hex');
}

export function createApprovals(deps: ApprovalsDeps): Approvals {
  const log = deps.logger.child({ name: 'approvals' });
  const tz = deps.timeZone ?? 'UTC';
  const repos = deps.repos;

  async function memberships(
    resolved: ResolvedRule,
    change: ChangeDetail,
    extraActor?: { id: string; platform?: PlatformName },
  ): Promise<Record<string, string[]>> {
    const groups = resolved.rule.approvers.groups;
    const out: Record<string, string[]> = {};
    if (groups.length === 0 || !deps.groupMembers) return out;
    const people = new Set(change.decisions.map((d) => d.actorId));
    if (extraActor) people.add(extraActor.id);
    for (const g of groups) {
      let members: readonly string[];
      try {
        members = await deps.groupMembers(extraActor?.platform ?? 'slack', g);
      } catch (err) {
        log.warn({ group: g, err: userMessageOf(err) }, 'could not read the members of an approver group');
        continue;
      }
      for (const m of members) if (people.has(m)) (out[m] ??= []).push(g);
    }
    return out;
  }

  function approvalInput(
    resolved: ResolvedRule,
    change: ChangeDetail,
    decisions: RecordedDecision[],
    member: Record<string, string[]>,
    now: Date,
  ): ApprovalInput {
    return {
      rule: resolved.rule,
      scope: {
        team: change.team ?? 'unowned',
        environments: resolved.environment ? [resolved.environment] : [],
      },
      requesterId: change.requestedBy,
      decisions,
      memberships: member,
      now,
      timeZone: tz,
    };
  }

  async function campaignView(changeId: string, now: Date): Promise<CampaignView> {
    const change = await repos.changes.get(changeId);
    const cves = [...new Set(change.findings.flatMap((f) => f.cves.map((c) => c.toUpperCase())))];
    const names = [...new Set(change.findings.map((f) => f.hostName))];
    const [facts, hosts, latest] = await Promise.all([
      repos.notifications.cveFacts(cves),
      repos.hosts.list({ names }),
      repos.deployments.latestForChange(change.id),
    ]);
    const deployment = latest
      ? deploymentCampaignState(await repos.deployments.detail(latest.id), now)
      : undefined;
    const member = await memberships(ruleFor(deps.policy, change), change);
    return buildCampaignView({
      policy: deps.policy,
      change,
      facts,
      hosts,
      deployment,
      now,
      memberships: member,
    });
  }

  const messenger: CampaignMessenger = {
    async refresh(changeId) {
      const messages = await repos.changes.messages(changeId);
      if (messages.length === 0) return;
      const view = await campaignView(changeId, deps.now());
      const hash = renderHash(view);
      for (const m of messages) {
        const platform = deps.platforms().find((p) => p.platform === m.platform);
        if (!platform) continue;
        const ref: MessageRef = { platform: m.platform, channel: m.channel, id: m.id };
        try {
          // An edit that failed is tried again by the next refresh: the hash is kept only after it.
          if (m.renderHash === hash) continue;
          await platform.update(ref, view);
          await repos.changes.setRenderHash(ref, hash);
        } catch (err) {
          log.warn(
            { change: changeId, channel: m.channel, err: userMessageOf(err) },
            'could not update the campaign message',
          );
        }
      }
    },
    async reply(changeId, content) {
      const messages = await repos.changes.messages(changeId);
      for (const m of messages) {
        const platform = deps.platforms().find((p) => p.platform === m.platform);
        if (!platform) continue;
        try {
          await platform.reply({ platform: m.platform, channel: m.channel, id: m.id }, content);
        } catch (err) {
          log.warn(
            { change: changeId, channel: m.channel, err: userMessageOf(err) },
            'could not reply in the campaign thread',
          );
        }
      }
    },
  };

  /** What a person sees in the thread after a decision. */
  function decisionLine(change: ChangeDetail, kind: DecisionKind, who: string, extra: string): NoticeView {
    const label = changeLabel({ changeId: change.id, changeNumber: change.number });
    switch (kind) {
      case 'approve':
        return notice('success', `${label} approved by ${who}${extra}`);
      case 'reject':
        return notice('warning', `${label} rejected by ${who}`, extra);
      case 'defer':
        return notice('info', `${label} deferred by ${who}${extra}`);
      case 'accept_risk':
        return notice('warning', `Risk of ${label} accepted by ${who}`, extra);
    }
  }

  async function decide(input: DecideInput): Promise<DecideResult> {
    const now = deps.now();
    const change = await repos.changes.get(input.changeRef);
    const resolved = ruleFor(deps.policy, change);
    const member = await memberships(resolved, change, input.actor);
    const who = input.actor.display ?? input.actor.id;

    const outcome: DecideOutcome<{ message: string; approved: boolean }> = await repos.changes.decide(
      change.id,
      (locked) => {
        const refuse = (message: string) => ({ result: { message, approved: false } });
        if (
          !OPEN_FOR_DECISION.has(locked.status) ||
          (input.kind !== 'approve' && input.kind !== 'reject' && locked.status === 'approved')
        )
          return refuse(
            `Change ${changeLabel({ changeId: locked.id, changeNumber: locked.number })} is ${STATUS_WORDS[locked.status] ?? locked.status}`,
          );
        const decisions = locked.decisions.map(recorded);
        const ai = approvalInput(resolved, locked, decisions, member, now);
        const permission = canDecide(ai, input.actor.id, input.kind === 'approve' ? 'approve' : 'reject');
        if (!permission.allowed) return refuse(permission.reason);
        const sameKind = locked.decisions.filter(
          (d) => d.actorId === input.actor.id && d.kind === input.kind,
        ).length;
        const base = {
          kind: input.kind,
          actorId: input.actor.id,
          ...(input.actor.display ? { actorDisplay: input.actor.display } : {}),
          surface: input.actor.surface,
          dedupeKey: String(sameKind),
        } as const;
        switch (input.kind) {
          case 'approve': {
            const after = approvalState({
              ...ai,
              decisions: [...decisions, { actorId: input.actor.id, kind: 'approve', at: now }],
            });
            const approved = after.status === 'approved';
            const write: DecisionWrite = {
              ...base,
              expiresAt: new Date(now.getTime() + resolved.rule.approvalTtlMs),
              ...(approved
                ? { status: 'approved', approvedAt: now }
                : locked.status === 'deferred'
                  ? { status: 'pending' }
                  : {}),
              audit: {
                action: 'decision.approve',
                details: {
                  rule: resolved.rule.name,
                  approvals: after.validApprovals.length,
                  quorum: after.quorum,
                  approved,
                },
              },
            };
            const count = approved ? after.quorum : after.validApprovals.length;
            return {
              write,
              result: { message: `${count} of ${after.quorum}${approved ? ': approved' : ''}`, approved },
            };
          }
          case 'reject': {
            const reason = (input.reason ?? '').trim();
            if (reason === '') return refuse('A rejection needs a reason');
            return {
              write: {
                ...base,
                reason,
                status: 'rejected',
                audit: { action: 'decision.reject', details: { reason } },
              },
              result: { message: reason, approved: false },
            };
          }
          case 'defer': {
            if (!input.deferUntil) return refuse('A deferral needs a date');
            const until = input.deferUntil;
            return {
              write: {
                ...base,
                ...(input.reason ? { reason: input.reason } : {}),
                deferUntil: until,
                status: 'deferred',
                findingsStatus: 'deferred',
                findingsUntil: until,
                audit: {
                  action: 'decision.defer',
                  details: { until: until.toISOString(), reason: input.reason ?? null },
                },
              },
              result: {
                message: ` until ${describeTime(until, now, tz).replace(/^(at|on) /, '')}`,
                approved: false,
              },
            };
          }
          case 'accept_risk': {
            const reason = (input.reason ?? '').trim();
            if (reason === '') return refuse('Accepting a risk needs a reason');
            if (!input.expires) return refuse('Accepting a risk needs an expiry date');
            const capped = capAcceptanceExpiry(input.expires, deps.policy.riskAcceptance.maxExpiryDays, now);
            return {
              write: {
                ...base,
                reason,
                expiresAt: capped.expiresAt,
                status: 'accepted_risk',
                findingsStatus: 'accepted',
                findingsUntil: capped.expiresAt,
                riskAcceptance: { reason, owner: input.actor.id, expiresAt: capped.expiresAt },
                audit: {
                  action: 'decision.accept_risk',
                  details: { reason, expiresAt: capped.expiresAt.toISOString(), capped: capped.capped },
                },
              },
              result: {
                message: `${reason} (until ${isoDay(capped.expiresAt)}${capped.note ? `; ${capped.note}` : ''})`,
                approved: false,
              },
            };
          }
        }
      },
      now,
    );

    if (outcome.type === 'refused')
      return { outcome: 'refused', change: outcome.change, message: outcome.result.message };
    if (outcome.type === 'duplicate')
      return { outcome: 'duplicate', change: outcome.change, message: 'Your decision was already recorded' };

    log.info(
      {
        change: outcome.change.number,
        kind: input.kind,
        actor: input.actor.id,
        status: outcome.change.status,
      },
      'decision recorded',
    );
    const line = decisionLine(
      outcome.change,
      input.kind,
      who,
      input.kind === 'approve' ? ` (${outcome.result.message})` : outcome.result.message,
    );
    await messenger.refresh(outcome.change.id);
    await messenger.reply(outcome.change.id, line);
    if (outcome.result.approved) await handOver(outcome.change, input.actor);
    return {
      outcome: 'recorded',
      change: outcome.change,
      message: line.text,
      approved: outcome.result.approved,
    };
  }

  /** An approved change goes to the deployment scheduler; its answer goes into the thread. */
  async function handOver(change: ChangeDetail, actor: DecisionActor): Promise<void> {
    const port = deps.deployments?.();
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
      log.warn(
        { change: change.number, err: userMessageOf(err) },
        'could not schedule the deployment of an approved change',
      );
      await messenger.reply(
        change.id,
        notice(
          'error',
          `${label} is approved, but its deployment could not be scheduled`,
          `${userMessageOf(err)}. Retry with \`patchbot deploy start ${change.number}\`.`,
        ),
      );
    }
    await messenger.refresh(change.id);
  }

  /** Whether the person may act on the change at all (reject/defer/accept-risk/controls), with why not. */
  async function permission(
    changeId: string,
    user: ChatUser,
  ): Promise<{ change: ChangeDetail; refusal?: string }> {
    const now = deps.now();
    const change = await repos.changes.get(changeId);
    const resolved = ruleFor(deps.policy, change);
    const member = await memberships(resolved, change, user);
    const ai = approvalInput(resolved, change, change.decisions.map(recorded), member, now);
    const allowed = canDecide(ai, user.id, 'reject');
    return allowed.allowed ? { change } : { change, refusal: allowed.reason };
  }

  const refusalNotice = (text: string): ActionResult => ({
    type: 'notice',
    content: notice('warning', text),
  });

  function resultNotice(r: DecideResult): NoticeView | undefined {
    if (r.outcome === 'recorded') return undefined;
    return notice(r.outcome === 'duplicate' ? 'info' : 'warning', r.message);
  }

  async function control(input: ActionInput, action: DeploymentControl): Promise<ActionResult> {
    const { change, refusal } = await permission(input.changeId, input.user);
    if (refusal) return refusalNotice(refusal);
    const port = deps.deployments?.();
    if (!port) return refusalNotice('Deployments are not running in this patchbot');
    const { message } = await port.control(change.id, action, actorOf(input.user));
    await messenger.refresh(change.id);
    await messenger.reply(change.id, notice('info', message, `by ${input.user.name ?? input.user.id}`));
    return { type: 'notice', content: notice('success', message) };
  }

  function details(change: ChangeDetail, view: CampaignView): ActionResult {
    const factors = view.risk.topFactors.map(
      (f) => `${f.contribution >= 0 ? '+' : ''}${f.contribution.toFixed(1)} ${f.label}`,
    );
    const decisions = change.decisions.map(
      (d) =>
        `${d.kind.replace('_', ' ')} by ${d.actorDisplay ?? d.actorId} ${describeTime(d.createdAt, deps.now(), tz)}${d.reason ? `: ${d.reason}` : ''}`,
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

  const handlers: ApprovalHandlers = {
    async onAction(input: ActionInput): Promise<ActionResult> {
      const kind: string = input.kind;
      if ((DEPLOYMENT_CONTROLS as readonly string[]).includes(kind))
        return control(input, kind as DeploymentControl);
      switch (kind) {
        case 'details': {
          const change = await repos.changes.get(input.changeId);
          return details(change, await campaignView(change.id, deps.now()));
        }
        case 'approve': {
          const r = await decide({ changeRef: input.changeId, kind: 'approve', actor: actorOf(input.user) });
          const n = resultNotice(r);
          return n ? { type: 'notice', content: n } : { type: 'done' };
        }
        case 'reject':
        case 'defer':
        case 'accept_risk': {
          const { change, refusal } = await permission(input.changeId, input.user);
          if (refusal) return refusalNotice(refusal);
          if (!OPEN_FOR_DECISION.has(change.status) || change.status === 'approved')
            return refusalNotice(
              `Change ${changeLabel({ changeId: change.id, changeNumber: change.number })} is ${STATUS_WORDS[change.status] ?? change.status}`,
            );
          const now = deps.now();
          const title = `${changeLabel({ changeId: change.id, changeNumber: change.number })} ${change.packageName} → ${change.fixedVersion}`;
          if (kind === 'reject')
            return { type: 'modal', modal: { kind: 'reject', changeId: change.id, title } };
          if (kind === 'defer')
            return {
              type: 'modal',
              modal: {
                kind: 'defer',
                changeId: change.id,
                title,
                maxDate: isoDay(new Date(now.getTime() + 365 * DAY_MS)),
              },
            };
          const ra = deps.policy.riskAcceptance;
          return {
            type: 'modal',
            modal: {
              kind: 'accept_risk',
              changeId: change.id,
              title,
              defaultExpiry: isoDay(
                new Date(now.getTime() + Math.min(ra.defaultExpiryDays, ra.maxExpiryDays) * DAY_MS),
              ),
              maxExpiry: isoDay(new Date(now.getTime() + ra.maxExpiryDays * DAY_MS)),
            },
          };
        }
        default:
          return refusalNotice(`patchbot does not know the button "${kind}"`);
      }
    },

    async onViewSubmission(input: SubmissionInput): Promise<SubmissionResult> {
      const s = input.submission;
      const actor = actorOf(input.user);
      const now = deps.now();
      let r: DecideResult;
      try {
        switch (s.kind) {
          case 'reject':
            r = await decide({ changeRef: s.changeId, kind: 'reject', actor, reason: s.reason });
            break;
          case 'defer': {
            const until = resolveDefer(
              s.defer.kind === 'date'
                ? { kind: 'date', date: s.defer.date }
                : { kind: s.defer.days === 1 ? '1d' : '1w' },
              now,
              tz,
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
      if (c.kind !== 'approve' && c.kind !== 'reject') return;
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
            : { changeRef: ref, kind: 'reject', actor, reason: c.reason ?? '' },
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

  const campaigns: CampaignStore = {
    async upsertCampaign(input, now) {
      const created = await repos.changes.upsertCampaign(
        { ...input, policySnapshot: {}, approvalsRequired: 1 },
        now,
      );
      if (created.created) {
        const change = await repos.changes.get(created.id);
        const resolved = ruleFor(deps.policy, change);
        await repos.changes.setPolicy(created.id, policySnapshot(resolved), resolved.rule.quorum);
      }
      return { changeId: created.id, created: created.created };
    },
    async recordMessage(changeId, ref) {
      await repos.changes.recordMessage(changeId, ref, 'change');
    },
    async messages(changeId) {
      return (await repos.changes.messages(changeId)).map((m) => ({
        platform: m.platform,
        channel: m.channel,
        id: m.id,
      }));
    },
  };

  return {
    handlers,
    campaigns,
    campaignView,
    messenger,
    decide,
    async approversOf(changeId) {
      const change = await repos.changes.get(changeId);
      return ruleFor(deps.policy, change).rule.approvers;
    },
    async sweep() {
      const now = deps.now();
      let reopened = 0;
      for (const id of await repos.changes.deferralsOver(now)) {
        if (await repos.changes.setStatus(id, ['deferred'], 'pending', 'the deferral ended', now)) {
          reopened++;
          await messenger.refresh(id);
        }
      }
      for (const id of await repos.changes.approvedWithoutDeployment()) {
        const change = await repos.changes.get(id);
        const resolved = ruleFor(deps.policy, change);
        const member = await memberships(resolved, change);
        const state = approvalState(
          approvalInput(resolved, change, change.decisions.map(recorded), member, now),
        );
        if (state.status === 'approved') continue;
        if (
          await repos.changes.setStatus(
            id,
            ['approved'],
            'pending',
            'approvals expired before a deployment started',
            now,
          )
        ) {
          reopened++;
          await messenger.refresh(id);
          await messenger.reply(
            id,
            notice(
              'warning',
              `${changeLabel({ changeId: id, changeNumber: change.number })} needs approval again`,
              'Its approvals expired before a deployment started.',
            ),
          );
        }
      }
      return { reopened };
    },
  };
}
