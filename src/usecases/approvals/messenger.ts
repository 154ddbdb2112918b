/**
 * The campaign messages of a change: its view built from live state (the change, its findings,
 * its ledger, CVE facts and its latest deployment), the messages edited to show it on every
 * platform they were posted to, and replies in their threads.
 */
import { createHash } from 'node:crypto';
import type { MessageRef } from '../../bot/chat-platform.js';
import { isoDay, type CampaignView } from '../../bot/views/index.js';
import { userMessageOf } from '../../core/errors.js';
import { deploymentCampaignState } from '../deployments/chat.js';
import type { ApprovalsContext } from './context.js';
import type { CampaignMessenger } from './ports.js';
import { buildCampaignView } from './view.js';

/** Hash of what a view shows, without the moment it was built ("due in" is re-derived daily). */
function renderHash(view: CampaignView): string {
  const { asOf, ...rest } = view;
  return createHash('sha256')
    .update(JSON.stringify({ ...rest, day: isoDay(asOf) }))
    .digest('hex');
}

/** The campaign message of a change as it is now. */
export async function campaignView(
  ctx: ApprovalsContext,
  changeId: string,
  now: Date,
): Promise<CampaignView> {
  const { repos } = ctx;
  const change = await repos.changes.get(changeId);
  const cves = [...new Set(change.findings.flatMap((f) => f.cves.map((c) => c.toUpperCase())))];
  const names = [...new Set(change.findings.map((f) => f.hostName))];
  const [facts, hosts, latest, groupsOf] = await Promise.all([
    repos.notifications.cveFacts(cves),
    repos.hosts.list({ names }),
    repos.deployments.latestForChange(change.id),
    ctx.groupsFor(change),
  ]);
  const deployment = latest
    ? deploymentCampaignState(await repos.deployments.detail(latest.id), now)
    : undefined;
  const itsm = repos.itsmLinks ? await repos.itsmLinks.forChange(change.id) : [];
  return buildCampaignView({ policy: ctx.policy, change, facts, hosts, deployment, now, groupsOf, itsm });
}

export function createMessenger(ctx: ApprovalsContext): CampaignMessenger {
  const { repos, log } = ctx;
  const platformOf = (name: string) => ctx.platforms().find((p) => p.platform === name);
  return {
    async refresh(changeId) {
      const messages = await repos.changes.messages(changeId);
      if (messages.length === 0) return;
      const view = await campaignView(ctx, changeId, ctx.now());
      const hash = renderHash(view);
      for (const m of messages) {
        const platform = platformOf(m.platform);
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
        const platform = platformOf(m.platform);
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
}
