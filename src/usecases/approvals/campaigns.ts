/**
 * The campaigns notify creates: a change request per fix and team, stored with the approval rule
 * that applies to it (chosen from the change as created) and the approvals it needs, and its
 * top-level messages.
 */
import type { CampaignStore } from '../notify.js';
import type { ApprovalsContext } from './context.js';
import { policySnapshot, ruleFor } from './rules.js';

export function createCampaignStore(ctx: ApprovalsContext): CampaignStore {
  const { repos } = ctx;
  return {
    async upsertCampaign(input, now) {
      const created = await repos.changes.upsertCampaign(
        {
          team: input.team,
          ...(input.kind === undefined ? {} : { kind: input.kind }),
          ...(input.lockfile === undefined ? {} : { lockfile: input.lockfile }),
          ecosystem: input.ecosystem,
          packageName: input.packageName,
          sourcePackage: input.sourcePackage,
          fixedVersion: input.fixedVersion,
          findingIds: input.findingIds,
          riskScore: input.riskScore,
          severity: input.severity,
          kev: input.kev,
          ...(input.escalation === undefined ? {} : { escalation: input.escalation }),
          policyFor: (change) => {
            const resolved = ruleFor(ctx.policy, change);
            return { snapshot: policySnapshot(resolved), approvalsRequired: resolved.rule.quorum };
          },
        },
        now,
      );
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
}
