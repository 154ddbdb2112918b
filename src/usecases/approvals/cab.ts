/**
 * What the change's thread hears when the change advisory board decides in the ITSM tool: an
 * approval hands the change to the deployment scheduler again (its answer goes into the thread),
 * a rejection (already recorded in the change's ledger) refreshes the message and says so. With
 * `approval.itsm: only` the board's approval is the change's approval: it is recorded in the
 * change's ledger as a decision by the CAB's actor (under the change's lock, once), which emits
 * change.approved and hands the change to the deployment scheduler.
 */
import { changeLabel, notice } from '../../bot/views/index.js';
import { userMessageOf } from '../../core/errors.js';
import type { ApprovalsContext } from './context.js';
import type { CampaignMessenger, DecisionActor } from './ports.js';
import { recordDecision } from './record.js';
import { CAB_ACTOR_ID } from './rules.js';

export interface ItsmRecordRef {
  number: string;
  url: string;
}

const cabActor = (record: ItsmRecordRef): DecisionActor => ({
  id: CAB_ACTOR_ID,
  display: `ServiceNow CAB (${record.number})`,
  surface: 'system',
});

/** The CAB approved `record`: deploy the change if it still waits (approved, no deployment). */
export async function cabApproved(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
  changeId: string,
  record: ItsmRecordRef,
): Promise<void> {
  if (ctx.policy.approval.itsm === 'only') {
    const r = await recordDecision(ctx, messenger, {
      changeRef: changeId,
      kind: 'approve',
      actor: cabActor(record),
    });
    // refused because the CAB's approval is already recorded (a reading made again): nothing to say
    const recorded = r.change.decisions.some(
      (d) => d.kind === 'approve' && d.actorId === CAB_ACTOR_ID && d.revokedAt === null,
    );
    if (r.outcome === 'refused' && !recorded)
      await messenger.reply(
        r.change.id,
        notice(
          'warning',
          `The CAB approved ${record.number} in ServiceNow, but it was not recorded`,
          r.message,
        ),
      );
    return;
  }
  const change = await ctx.repos.changes.get(changeId);
  const label = changeLabel({ changeId: change.id, changeNumber: change.number });
  if (change.status !== 'approved') {
    // approved by the CAB before the approvals in chat were complete: deployed once they are
    await messenger.reply(
      change.id,
      notice(
        'info',
        `The CAB approved ${record.number} in ServiceNow; ${label} still waits for its approvals here`,
      ),
    );
    return;
  }
  const port = ctx.deployments?.();
  if (!port) {
    await messenger.reply(
      change.id,
      notice(
        'info',
        `The CAB approved ${record.number} in ServiceNow`,
        `Start the deployment with \`patchbot deploy start ${change.number}\`.`,
      ),
    );
    return;
  }
  try {
    const { summary } = await port.approved(change.id, cabActor(record));
    await messenger.reply(
      change.id,
      notice('info', `The CAB approved ${record.number} in ServiceNow. ${summary}`),
    );
  } catch (err) {
    const message = userMessageOf(err);
    ctx.log.warn({ change: change.number, err: message }, 'could not schedule a change the CAB approved');
    await messenger.reply(
      change.id,
      notice(
        'error',
        `The CAB approved ${record.number}, but the deployment of ${label} could not be scheduled`,
        `${message}. Retry with \`patchbot deploy start ${change.number}\`.`,
      ),
    );
  }
  await messenger.refresh(change.id);
}

/** The CAB rejected `record` (the change is already rejected): refresh the message, say so. */
export async function cabRejected(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
  changeId: string,
  record: ItsmRecordRef,
): Promise<void> {
  const change = await ctx.repos.changes.get(changeId);
  await messenger.refresh(change.id);
  await messenger.reply(
    change.id,
    notice(
      'warning',
      `${changeLabel({ changeId: change.id, changeNumber: change.number })} rejected: the CAB rejected ${record.number} in ServiceNow`,
      record.url,
    ),
  );
}
