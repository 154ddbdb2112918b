/**
 * The CAB gate (policy `approval.itsm: required`): an approved change is deployed only once its
 * ServiceNow change_request's `approval` field reads "approved". Until then the deployment
 * scheduler holds it ("Waiting for CAB approval in ServiceNow CHG0031234") and a worker job reads
 * the field again, sooner at first and then less often (itsm.servicenow.approvalPoll). "approved"
 * hands the change to the deployment scheduler again; "rejected" rejects the patchbot change, with
 * a decision and an audit row naming the record. The reading is decided in PostgreSQL: of two
 * workers reading at once, one records the decision and acts on it.
 *
 * With `approval.itsm: only` the same reading is the change's approval: the change_request's
 * approval is asked for when the rollout is requested, and `release` records the CAB's approval in
 * the change's ledger (which approves it and hands it to the deployment scheduler). When `release`
 * fails, the reading is taken back and made again after the backoff, so the approval is not lost;
 * the ledger records it once however often it arrives.
 */
import { CLOSED_CHANGE_STATUSES } from '../../../db/repositories/change-repository.js';
import type { ServiceNowIntegration } from '../../../config/policy-schema.js';
import { PatchbotError, userMessageOf } from '../../../core/errors.js';
import type { ItsmLinkRecord, ItsmLinkRepository } from '../../../db/repositories/itsm-link-repository.js';
import type { DeploymentGate } from '../../../usecases/approvals/ports.js';
import type { ItsmDeps } from '../deps.js';
import type { ServiceNowClient } from './client.js';

/** The actor of CAB decisions in decisions and the audit log. */
export const CAB_ACTOR = 'servicenow:cab';

export interface CabPollResult {
  read: number;
  approved: string[];
  rejected: string[];
  waiting: number;
  failed: number;
}

export interface CabGate extends DeploymentGate {
  /** Reads the approvals that are due; run by the worker's recurring job. */
  poll(signal?: AbortSignal): Promise<CabPollResult>;
}

export interface CabGateOptions {
  config: Pick<ServiceNowIntegration, 'approvalPoll'>;
  client: ServiceNowClient;
  deps: ItsmDeps;
  /**
   * The CAB approved the change: hand it to the deployment scheduler again (the approval use
   * case's port, answering in the change's thread). Called once per approval.
   */
  release?: (changeId: string, record: { number: string; url: string }) => Promise<void>;
  /** The CAB rejected the change (already recorded): refresh its chat messages, say so in its thread. */
  rejected?: (changeId: string, record: { number: string; url: string }) => Promise<void>;
}

const recordOf = (l: ItsmLinkRecord) => ({ number: l.number, url: l.url });

/**
 * The gate's answer alone (reads only PostgreSQL, needs no credentials): what the deployment
 * scheduler asks, in every process that schedules deployments (`serve`, `worker`, `deploy start`).
 */
export function createCabHold(links: Pick<ItsmLinkRepository, 'find' | 'requestApproval'>): DeploymentGate {
  return {
    async holds(changeId) {
      const link = await links.find(changeId, 'servicenow');
      if (!link) {
        return { summary: 'Waiting for CAB approval in ServiceNow (its change request is being created)' };
      }
      if (link.approval === 'approved') return undefined;
      if (link.approval === 'rejected') {
        return { summary: `The CAB rejected ${link.number} in ServiceNow`, record: recordOf(link) };
      }
      if (link.approval === null) await links.requestApproval(link.id);
      return { summary: `Waiting for CAB approval in ServiceNow ${link.number}`, record: recordOf(link) };
    },
  };
}

/** How long until the next reading after `attempts` readings without a decision. */
export function nextPollDelay(attempts: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempts, 30));
}

export function createCabGate(options: CabGateOptions): CabGate {
  const { config, client, deps } = options;
  const links = deps.links;
  const log = deps.logger.child({ name: 'cab' });
  const hold = createCabHold(links);

  async function reject(link: ItsmLinkRecord): Promise<void> {
    const reason = `rejected by the CAB in ServiceNow ${link.number}`;
    await deps.changes.transact(link.changeRequestId, (change) => {
      if (CLOSED_CHANGE_STATUSES.includes(change.status)) return { result: undefined };
      return {
        write: {
          decision: {
            kind: 'reject',
            actorId: CAB_ACTOR,
            actorDisplay: `ServiceNow CAB (${link.number})`,
            surface: 'system',
            reason,
            round: change.round,
          },
          change: { status: 'rejected' },
          audit: {
            actor: CAB_ACTOR,
            actorDisplay: `ServiceNow CAB (${link.number})`,
            surface: 'system',
            action: 'decision.reject',
            details: { change: change.number, record: link.number, url: link.url, reason },
          },
        },
        result: undefined,
      };
    });
  }

  return {
    holds: (changeId) => hold.holds(changeId),

    async poll(signal = new AbortController().signal) {
      const result: CabPollResult = { read: 0, approved: [], rejected: [], waiting: 0, failed: 0 };
      for (const link of await links.approvalsDue()) {
        let approval: string | undefined;
        try {
          approval = (await client.get('change_request', link.externalId, signal)).approval;
          result.read += 1;
        } catch (err) {
          result.failed += 1;
          const wait =
            err instanceof PatchbotError && typeof err.details.retryAfterMs === 'number'
              ? err.details.retryAfterMs
              : nextPollDelay(link.pollAttempts, config.approvalPoll.initial, config.approvalPoll.max);
          log.warn({ record: link.number, err: userMessageOf(err) }, 'could not read the CAB approval');
          await links.recordApproval(link.id, { approval: 'requested', delayMs: wait });
          continue;
        }
        if (approval === 'approved') {
          if (!(await links.recordApproval(link.id, { approval: 'approved' }))) continue;
          result.approved.push(link.changeRequestId);
          await deps.audit.append({
            actor: CAB_ACTOR,
            actorDisplay: `ServiceNow CAB (${link.number})`,
            surface: 'system',
            action: 'itsm.cab_approved',
            subjectType: 'change',
            subjectId: link.changeRequestId,
            details: { record: link.number, url: link.url },
          });
          log.info({ record: link.number }, 'CAB approved the change request');
          try {
            await options.release?.(link.changeRequestId, recordOf(link));
          } catch (err) {
            result.failed += 1;
            log.warn(
              { record: link.number, err: userMessageOf(err) },
              'could not act on the CAB approval; it is read again',
            );
            await links.reopenApproval(
              link.id,
              nextPollDelay(link.pollAttempts, config.approvalPoll.initial, config.approvalPoll.max),
            );
          }
        } else if (approval === 'rejected') {
          if (!(await links.recordApproval(link.id, { approval: 'rejected' }))) continue;
          result.rejected.push(link.changeRequestId);
          await reject(link);
          log.info({ record: link.number }, 'CAB rejected the change request');
          await options.rejected?.(link.changeRequestId, recordOf(link));
        } else {
          result.waiting += 1;
          await links.recordApproval(link.id, {
            approval: 'requested',
            delayMs: nextPollDelay(link.pollAttempts, config.approvalPoll.initial, config.approvalPoll.max),
          });
        }
      }
      return result;
    },
  };
}
