/**
 * Where a team's posts go. The policy file names each team's Slack channels; they are kept as
 * Team / ChatDestination rows (synced at start-up of `serve` and `worker`) so messages, campaigns
 * and digests can refer to them. A host's team comes from the host itself, else the routing rules,
 * else routing.defaultTeam (resolveMembership, the same rules hosts are synced with).
 */
import type { Policy } from '../config/policy-schema.js';
import type { Repositories } from '../db/index.js';
import type { DestinationRecord, TeamSyncResult } from '../db/repositories/team-repository.js';
import { resolveMembership, type SelectorSubject } from './hosts.js';

export type DestinationRepos = Pick<Repositories, 'teams'>;

/** Makes the database's teams and Slack destinations what the policy file says. */
export async function syncDestinations(
  policy: Pick<Policy, 'teams' | 'routing' | 'hosts'>,
  repos: DestinationRepos,
  now: Date,
): Promise<TeamSyncResult> {
  // Teams named only by routing or hosts exist too (with no channel until the file gives one).
  const named = new Set(policy.teams.map((t) => t.name));
  const extra = [
    ...policy.routing.rules.map((r) => r.team),
    ...(policy.routing.defaultTeam ? [policy.routing.defaultTeam] : []),
    ...policy.hosts.flatMap((h) => (h.team ? [h.team] : [])),
  ].filter((name) => !named.has(name));
  const definitions = [
    ...policy.teams.map((t) => ({
      name: t.name,
      ...(t.description === undefined ? {} : { description: t.description }),
      slackChannels: t.slack.channels,
    })),
    ...[...new Set(extra)].map((name) => ({ name, slackChannels: [] })),
  ];
  return repos.teams.syncPolicy(definitions, now);
}

/** The team's Slack channels. */
export async function destinationsForTeam(
  repos: DestinationRepos,
  team: string,
): Promise<DestinationRecord[]> {
  return repos.teams.destinationsOf(team, 'slack');
}

/** The owning team of a host: its own team, else the first routing rule that matches, else the default team. */
export function teamForHost(
  policy: Pick<Policy, 'groups' | 'routing'>,
  host: SelectorSubject,
): string | null {
  return resolveMembership(policy, host).team;
}
