/**
 * Microsoft Teams installations. When the bot is added to a team, a channel or a chat, the Teams
 * edge hands the conversations here: each one is stored with its conversation reference (what
 * posting there later needs) and bound to a patchbot team by ids only, never by display name (a
 * name can be changed, or copied by anyone who creates a team or channel):
 *
 * 1. the team whose `msteams.conversations` lists the conversation id, else
 * 2. the team whose `msteams.channels` names the Teams team id and channel id (no channel id = the
 *    team's General channel), else
 * 3. the team an admin bound the channel to with `patch link <team>` in it (stored), else
 * 4. no team: the conversation is kept (so a later policy file or a link can bind it) and nothing
 *    is posted there.
 *
 * Renames change only the names shown. Removal (the bot uninstalled, a channel or team deleted)
 * marks conversations removed; their rows stay so the messages posted there remain traceable. At
 * start-up `remapTeamsDestinations` applies the current policy file to every stored conversation.
 */
import { z } from 'zod';
import type { CommandInput } from '../bot/handlers.js';
import { notice } from '../bot/views/index.js';
import type { Policy } from '../config/policy-schema.js';
import type { Repositories } from '../db/index.js';
import type { TeamsDestinationRecord } from '../db/repositories/team-repository.js';

export type TeamsRepos = Pick<Repositories, 'teams'>;

export const TeamsConversationKind = z.enum(['channel', 'groupChat', 'personal']);
export type TeamsConversationKind = z.infer<typeof TeamsConversationKind>;

const Id = z.string().min(1).max(500);
const Named = z.object({ id: Id, name: z.string().max(500).optional() });

/** The Bot Framework conversation reference, as far as patchbot reads it (other fields are kept). */
export const ConversationReferenceData = z.looseObject({
  channelId: z.string().min(1).max(100),
  serviceUrl: z.string().min(1).max(2000),
  conversation: z.looseObject({
    id: Id,
    conversationType: z.string().max(50).optional(),
    tenantId: z.string().max(100).optional(),
    isGroup: z.boolean().optional(),
  }),
  bot: z.looseObject({ id: Id, name: z.string().max(500).optional() }).optional(),
});
export type ConversationReferenceData = z.infer<typeof ConversationReferenceData>;

/** One conversation the bot can post to, as stored in ChatDestination.conversationReference. */
export const TeamsConversation = z.object({
  /** The conversation id without a `;messageid=` suffix. */
  id: Id,
  kind: TeamsConversationKind,
  tenantId: z.string().max(100).optional(),
  serviceUrl: z.string().min(1).max(2000),
  /** The Teams team a channel belongs to. */
  teamsTeam: Named.optional(),
  /** The channel (its id equals the team id for the General channel). */
  channel: Named.optional(),
  /** The chat's topic, when it has one. */
  chatName: z.string().max(500).optional(),
  reference: ConversationReferenceData,
});
export type TeamsConversation = z.infer<typeof TeamsConversation>;

/** A stored conversation: where it is, which team it maps to, and whether the bot is still there. */
export interface StoredTeamsConversation extends TeamsConversation {
  team: string | null;
  removed: boolean;
}

/** "19:abc@thread.tacv2;messageid=123" -> "19:abc@thread.tacv2". */
export function baseConversationId(id: string): string {
  const i = id.indexOf(';');
  return i < 0 ? id : id.slice(0, i);
}

const same = (a: string, b: string) => a.trim().toLocaleLowerCase('en') === b.trim().toLocaleLowerCase('en');

/** Whether the conversation is its team's General channel (whose id is the team id). */
export function isGeneralChannel(
  c: Pick<TeamsConversation, 'id' | 'kind' | 'teamsTeam' | 'channel'>,
): boolean {
  if (c.kind !== 'channel' || c.teamsTeam === undefined) return false;
  return c.id === c.teamsTeam.id || (c.channel?.name !== undefined && same(c.channel.name, 'General'));
}

/** The patchbot team the policy file binds a conversation to, by ids only, or null. */
export function teamForConversation(
  policy: Pick<Policy, 'teams'>,
  c: Pick<TeamsConversation, 'id' | 'kind' | 'teamsTeam'>,
): string | null {
  const id = baseConversationId(c.id);
  const byId = policy.teams.find((t) => t.msteams.conversations.some((x) => baseConversationId(x) === id));
  if (byId) return byId.name;
  const teamsTeamId = c.teamsTeam?.id;
  if (c.kind !== 'channel' || teamsTeamId === undefined) return null;
  const byIds = policy.teams.find((t) =>
    t.msteams.channels.some((m) => m.teamId === teamsTeamId && (m.channelId ?? m.teamId) === id),
  );
  return byIds?.name ?? null;
}

function displayName(c: TeamsConversation): string | undefined {
  if (c.kind === 'channel' && c.teamsTeam?.name !== undefined)
    return `${c.teamsTeam.name} › ${isGeneralChannel(c) ? 'General' : (c.channel?.name ?? c.id)}`;
  return c.chatName;
}

function fromRecord(r: TeamsDestinationRecord): StoredTeamsConversation | undefined {
  const parsed = TeamsConversation.safeParse(r.conversationReference);
  if (!parsed.success) return undefined;
  return { ...parsed.data, team: r.team, removed: r.removedAt !== null };
}

/**
 * The team a stored conversation belongs to now: the policy file's binding, else the one an admin
 * linked it to (when that team still exists), else none.
 */
function boundTeam(
  policy: Pick<Policy, 'teams'>,
  known: ReadonlySet<string>,
  c: Pick<TeamsConversation, 'id' | 'kind' | 'teamsTeam'>,
  stored: Pick<TeamsDestinationRecord, 'team' | 'linkedBy'> | undefined,
): { team: string | null; linked: boolean } {
  const mapped = teamForConversation(policy, c);
  if (mapped !== null) return { team: known.has(mapped) ? mapped : null, linked: false };
  if (stored?.linkedBy && stored.team !== null && known.has(stored.team))
    return { team: stored.team, linked: true };
  return { team: null, linked: false };
}

export interface InstallationResult {
  id: string;
  name?: string;
  /** The Teams team of a channel (what `msteams.channels[].teamId` names). */
  teamsTeamId?: string;
  team: string | null;
}

/** Stores the conversations the bot was installed in and maps each to a team. */
export async function recordTeamsInstallation(
  repos: TeamsRepos,
  policy: Pick<Policy, 'teams'>,
  conversations: readonly TeamsConversation[],
  now: Date,
): Promise<InstallationResult[]> {
  const known = new Set(await repos.teams.names());
  const results: InstallationResult[] = [];
  for (const raw of conversations) {
    const c = TeamsConversation.parse({ ...raw, id: baseConversationId(raw.id) });
    // A team the policy names exists once the policy was synced; anything else stays unbound.
    const { team, linked } = boundTeam(policy, known, c, await repos.teams.teamsDestination(c.id));
    const name = displayName(c);
    await repos.teams.upsertTeamsDestination(
      {
        channelId: c.id,
        team,
        linked,
        ...(name === undefined ? {} : { name }),
        conversationReference: c,
        serviceUrl: c.serviceUrl,
        ...(c.tenantId === undefined ? {} : { tenantId: c.tenantId }),
      },
      now,
    );
    results.push({
      id: c.id,
      ...(name === undefined ? {} : { name }),
      ...(c.teamsTeam ? { teamsTeamId: c.teamsTeam.id } : {}),
      team,
    });
  }
  return results;
}

/** What was removed: some conversations, or every channel of a Teams team. */
export type RemovalTarget = { conversationIds: readonly string[] } | { teamsTeamId: string };

/** Marks conversations removed; returns how many were. */
export async function recordTeamsRemoval(
  repos: TeamsRepos,
  target: RemovalTarget,
  now: Date,
): Promise<number> {
  let ids: string[];
  if ('conversationIds' in target) ids = target.conversationIds.map(baseConversationId);
  else {
    const stored = await repos.teams.teamsDestinations();
    ids = stored
      .map(fromRecord)
      .filter((c): c is StoredTeamsConversation => c?.teamsTeam?.id === target.teamsTeamId)
      .map((c) => c.id);
  }
  return repos.teams.removeTeamsDestinations(ids, now);
}

/** The stored conversation (removed ones too), or undefined when the bot was never installed there. */
export async function findTeamsConversation(
  repos: TeamsRepos,
  conversationId: string,
): Promise<StoredTeamsConversation | undefined> {
  const r = await repos.teams.teamsDestination(baseConversationId(conversationId));
  return r ? fromRecord(r) : undefined;
}

/** Stored conversations of one Teams team (not removed). */
export async function teamsTeamConversations(
  repos: TeamsRepos,
  teamsTeamId: string,
): Promise<StoredTeamsConversation[]> {
  const stored = await repos.teams.teamsDestinations();
  return stored.map(fromRecord).filter((c): c is StoredTeamsConversation => c?.teamsTeam?.id === teamsTeamId);
}

export interface RemapChange {
  id: string;
  name: string | null;
  from: string | null;
  to: string | null;
}

/** Applies the policy file to every stored conversation; returns the ones whose team changed. */
export async function remapTeamsDestinations(
  repos: TeamsRepos,
  policy: Pick<Policy, 'teams'>,
): Promise<RemapChange[]> {
  const known = new Set(await repos.teams.names());
  const changes: RemapChange[] = [];
  for (const r of await repos.teams.teamsDestinations()) {
    const c = fromRecord(r);
    if (!c) continue;
    const { team: to, linked } = boundTeam(policy, known, c, r);
    if (to === r.team && linked === (r.linkedBy !== null)) continue;
    await repos.teams.setTeamsDestinationTeam(r.channelId, to, linked);
    if (to === r.team) continue;
    changes.push({ id: r.channelId, name: r.name, from: r.team, to });
  }
  return changes;
}

/** The conversation store the Teams edge uses, over the database and the policy file. */
export function createTeamsConversationStore(
  repos: TeamsRepos,
  policy: Pick<Policy, 'teams'>,
  now: () => Date = () => new Date(),
) {
  return {
    installed: (conversations: TeamsConversation[]) =>
      recordTeamsInstallation(repos, policy, conversations, now()),
    removed: (target: RemovalTarget) => recordTeamsRemoval(repos, target, now()),
    find: (conversationId: string) => findTeamsConversation(repos, conversationId),
    ofTeam: (teamsTeamId: string) => teamsTeamConversations(repos, teamsTeamId),
  };
}

export interface LinkCommandDeps {
  repos: TeamsRepos;
  policy: Pick<Policy, 'teams'>;
  now: () => Date;
}

/**
 * `patch link <team>` typed in a Microsoft Teams channel (by an admin: the chat edge checks the
 * role): binds the channel, by its ids, to a patchbot team; the binding is stored, audited and
 * survives renames and restarts. A channel the policy file binds keeps that binding. In Slack,
 * where channels are named by id in the policy file, it says so.
 */
export function createLinkCommand(
  deps: LinkCommandDeps,
): (input: CommandInput, team: string) => Promise<void> {
  return async (input, team) => {
    if (input.user.platform !== 'teams') {
      await input.respond(
        notice(
          'info',
          `Slack channels are bound to teams in patchbot.yaml: add ${input.channel} to teams[].slack.channels of team ${team}`,
        ),
      );
      return;
    }
    const where = input.teams;
    if (where?.kind !== 'channel' || where.teamsTeamId === undefined) {
      await input.respond(
        notice(
          'warning',
          'patch link works in a channel of a Teams team',
          `For a chat, add its id to msteams.conversations of the team in patchbot.yaml: ${input.channel}`,
        ),
      );
      return;
    }
    if (!deps.policy.teams.some((t) => t.name === team) || !(await deps.repos.teams.exists(team))) {
      await input.respond(notice('warning', `No team named ${JSON.stringify(team)} in the policy file`));
      return;
    }
    const stored = await findTeamsConversation(deps.repos, input.channel);
    if (!stored || stored.removed || stored.teamsTeam?.id !== where.teamsTeamId) {
      await input.respond(
        notice('warning', 'patchbot does not know this channel yet: add the app to the team first'),
      );
      return;
    }
    const bound = teamForConversation(deps.policy, stored);
    if (bound !== null && bound !== team) {
      await input.respond(
        notice('warning', `patchbot.yaml binds this channel to team ${bound}; change it there`),
      );
      return;
    }
    await deps.repos.teams.linkTeamsDestination(
      stored.id,
      team,
      { id: input.user.id, ...(input.user.name ? { display: input.user.name } : {}) },
      { teamsTeamId: where.teamsTeamId, from: stored.team, name: displayName(stored) ?? null },
      deps.now(),
    );
    await input.respond(
      notice(
        'success',
        `This channel now gets the campaigns of team ${team}`,
        `Bound by its ids (team ${where.teamsTeamId}, channel ${stored.id}): renaming it changes nothing.`,
      ),
    );
  };
}
