/**
 * Approvals: what happens when a person asks for a rollout or decides on a change (Request
 * rollout, Approve, Reject, Defer, Accept risk, `/patch request|approve|reject`, `patchbot
 * changes`), on any chat platform or the CLI.
 *
 * The parts, in the order a decision goes through them:
 * - rules.ts: the policy file resolved for one change (approval rule, emergency lane);
 * - context.ts: shared dependencies and the group memberships a decision needs;
 * - record.ts: the decision appended to the change's ledger under its row lock, with the
 *   database's clock (core/policy/ledger decides), then messages and the hand-over to deployments;
 * - handlers.ts: buttons, dialogs and commands;
 * - messenger.ts, view.ts: the campaign messages, built from live state;
 * - campaigns.ts: the change notify creates for a fix; sweep.ts: changes that wait for approval again.
 */
import type { ApprovalHandlers } from '../../bot/handlers/index.js';
import type { ApproverSet } from '../../core/policy/approval.js';
import type { CampaignStore, CampaignViewFn } from '../notify.js';
import { cabApproved, cabRejected, type ItsmRecordRef } from './cab.js';
import { createCampaignStore } from './campaigns.js';
import { createContext, type ApprovalsDeps } from './context.js';
import { createApprovalHandlers } from './handlers.js';
import { campaignView, createMessenger } from './messenger.js';
import type { CampaignMessenger } from './ports.js';
import { recordDecision, type DecideInput, type DecideResult } from './record.js';
import { ruleFor } from './rules.js';
import { sweep } from './sweep.js';

export * from './ports.js';
export type { ApprovalRepos, ApprovalsDeps } from './context.js';
export type { DecideInput, DecideResult, DecisionKind } from './record.js';
export type { ItsmRecordRef } from './cab.js';
export { actorOf } from './handlers.js';
export { ruleFor, resolveApprovers, environmentsOf, ledgerOf, ledgerPolicy } from './rules.js';
export { buildCampaignView, campaignStateOf, plannedRings } from './view.js';

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
  /** The CAB approved the change's ITSM record: deploy it if it still waits, say so in its thread. */
  cabApproved(changeId: string, record: ItsmRecordRef): Promise<void>;
  /** The CAB rejected the change's ITSM record (already recorded): refresh its message, say so. */
  cabRejected(changeId: string, record: ItsmRecordRef): Promise<void>;
}

export function createApprovals(deps: ApprovalsDeps): Approvals {
  const ctx = createContext(deps);
  const messenger = createMessenger(ctx);
  return {
    handlers: createApprovalHandlers(ctx, messenger),
    campaigns: createCampaignStore(ctx),
    campaignView: (changeId, now) => campaignView(ctx, changeId, now),
    messenger,
    decide: (input) => recordDecision(ctx, messenger, input),
    async approversOf(changeId) {
      const change = await deps.repos.changes.get(changeId);
      return ruleFor(deps.policy, change).rule.approvers;
    },
    sweep: () => sweep(ctx, messenger),
    cabApproved: (changeId, record) => cabApproved(ctx, messenger, changeId, record),
    cabRejected: (changeId, record) => cabRejected(ctx, messenger, changeId, record),
  };
}
