/**
 * What the change's thread hears when the change advisory board decides in the ITSM tool: an
 * approval hands the change to the deployment scheduler again (its answer goes into the thread),
 * a rejection (already recorded in the change's ledger) refreshes the message and says so.
 */
import { changeLabel, notice } from '../../bot/views/index.js';
import { userMessageOf } from '../../core/errors.js';
import type { ApprovalsContext } from './context.js';
import type { CampaignMessenger, DecisionActor } from './ports.js';

export interface ItsmRecordRef {
  number: string;
  url: string;
}

const cabActor = (record: ItsmRecordRef): DecisionActor => ({
  id: 'servicenow:cab',
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
