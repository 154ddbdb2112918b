/**
 * Members of Slack user groups (usergroups.users.list), for approval policies that name groups
 * ("@platform-leads"). Answers are cached briefly so a burst of clicks asks Slack once per group;
 * a failed lookup is not cached.
 */
import type { webApi } from '@slack/bolt';
import { toPatchbotError } from './errors.js';

export interface GroupMembersOptions {
  /** How long a group's member list is reused (default 60 s). */
  ttlMs?: number;
  now?: () => number;
}

export function slackGroupMembers(
  client: webApi.WebClient,
  options: GroupMembersOptions = {},
): (groupId: string) => Promise<readonly string[]> {
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; members: Promise<readonly string[]> }>();
  return (groupId) => {
    const hit = cache.get(groupId);
    if (hit && now() - hit.at < ttl) return hit.members;
    const members = client.usergroups.users
      .list({ usergroup: groupId })
      .then((r) => r.users ?? [])
      .catch((err: unknown) => {
        cache.delete(groupId);
        throw toPatchbotError(err, 'usergroups.users.list');
      });
    cache.set(groupId, { at: now(), members });
    return members;
  };
}
