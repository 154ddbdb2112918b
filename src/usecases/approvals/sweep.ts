/**
 * Changes that wait for approval again: a deferral whose date passed, and an approved change whose
 * approvals expired before a deployment started. Each is decided under the change's lock with the
 * database's clock, from its ledger: it goes back to pending in a new round (the earlier round's
 * approvals no longer count), audited as patchbot, and its messages say so.
 */
import { changeLabel, notice } from '../../bot/views/index.js';
import { ledgerState } from '../../core/policy/ledger.js';
import type { ApprovalsContext } from './context.js';
import type { CampaignMessenger } from './ports.js';
import { ledgerOf } from './rules.js';

export async function sweep(
  ctx: ApprovalsContext,
  messenger: CampaignMessenger,
): Promise<{ reopened: number }> {
  const { repos } = ctx;
  let reopened = 0;
  for (const id of await repos.changes.reopenCandidates()) {
    const change = await repos.changes.get(id);
    const groupsOf = await ctx.groupsFor(change);
    const outcome = await repos.changes.transact(id, (locked, now) => {
      const state = ledgerState(ledgerOf(locked), locked.round, ctx.ledgerPolicyFor(locked, groupsOf), now);
      const why =
        locked.status === 'deferred' && state.lapsed === 'the deferral ended'
          ? 'the deferral ended'
          : locked.status === 'approved' && state.status !== 'approved'
            ? 'approvals expired before a deployment started'
            : undefined;
      if (why === undefined) return { result: undefined };
      return {
        write: {
          change: { status: 'pending', round: locked.round + 1, approvalsRequired: state.quorum },
          audit: {
            actor: 'patchbot',
            surface: 'system',
            action: 'change.pending',
            details: { from: [locked.status], reason: why, round: locked.round + 1, quorum: state.quorum },
          },
        },
        result: { why, from: locked.status },
      };
    });
    if (!outcome.written || outcome.result === undefined) continue;
    reopened++;
    await messenger.refresh(id);
    if (outcome.result.from === 'approved')
      await messenger.reply(
        id,
        notice(
          'warning',
          `${changeLabel({ changeId: id, changeNumber: outcome.change.number })} needs approval again`,
          'Its approvals expired before a deployment started.',
        ),
      );
  }
  return { reopened };
}
