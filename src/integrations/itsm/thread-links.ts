/**
 * The link from an ITSM record back to the change's chat thread: the Slack permalink of the
 * change's message (chat.getPermalink, through the Slack poster), or the Teams deep link to the
 * message in its channel. The first message the change was posted with wins (Slack first).
 */
import type { ChangeRepository } from '../../db/repositories/change-repository.js';

export interface ThreadLinkDeps {
  changes: Pick<ChangeRepository, 'messages'>;
  /** Slack: the message's permalink (SlackPoster.permalink). */
  slackPermalink?: (ref: { channel: string; id: string }) => Promise<string>;
  /** Teams: the tenant the messages live in (adds tenantId to the deep link). */
  teamsTenantId?: string;
}

/** https://teams.microsoft.com/l/message/{channel}/{message}: opens the message in Teams. */
export function teamsMessageLink(channel: string, messageId: string, tenantId?: string): string {
  const q = new URLSearchParams({ parentMessageId: messageId, ...(tenantId ? { tenantId } : {}) });
  return `https://teams.microsoft.com/l/message/${encodeURIComponent(channel)}/${encodeURIComponent(messageId)}?${q.toString()}`;
}

export function chatThreadLinks(deps: ThreadLinkDeps): (changeId: string) => Promise<string | undefined> {
  return async (changeId) => {
    const messages = await deps.changes.messages(changeId, 'change');
    const slack = messages.find((m) => m.platform === 'slack');
    if (slack && deps.slackPermalink) return deps.slackPermalink({ channel: slack.channel, id: slack.id });
    const teams = messages.find((m) => m.platform === 'teams');
    if (teams) return teamsMessageLink(teams.channel, teams.id, deps.teamsTenantId);
    return undefined;
  };
}
