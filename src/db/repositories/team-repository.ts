/**
 * Teams and the chat destinations they post to. The policy file defines both; `syncPolicy` makes
 * the database agree with it (destinations no longer in the file are marked removed, not deleted,
 * so messages posted there stay traceable).
 */
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';

export type ChatPlatformName = 'slack' | 'teams';

/** One team as the policy file defines it. */
export interface TeamDefinition {
  name: string;
  description?: string;
  /** Slack channel ids. */
  slackChannels: readonly string[];
}

export interface DestinationRecord {
  id: string;
  team: string | null;
  platform: ChatPlatformName;
  channelId: string;
}

/** A Microsoft Teams conversation patchbot was installed in (the edge's installation events). */
export interface TeamsDestinationInput {
  /** Conversation id ("19:…@thread.tacv2", "a:…"). */
  channelId: string;
  /** The patchbot team it maps to (must exist), or null when the policy file names none. */
  team: string | null;
  /** The team comes from `patch link` (kept), not from the policy file (a link is dropped). */
  linked?: boolean;
  name?: string;
  /** What posting proactively needs (JSON, written and read back by the Teams edge). */
  conversationReference: unknown;
  serviceUrl: string;
  tenantId?: string;
}

export interface TeamsDestinationRecord {
  id: string;
  team: string | null;
  channelId: string;
  name: string | null;
  conversationReference: unknown;
  serviceUrl: string | null;
  tenantId: string | null;
  installedAt: Date | null;
  removedAt: Date | null;
  /** Bound to its team by `patch link` (by this person), not by the policy file. */
  linkedBy: string | null;
  linkedAt: Date | null;
}

export interface TeamSyncResult {
  teamsAdded: string[];
  destinationsAdded: { team: string; platform: ChatPlatformName; channelId: string }[];
  destinationsRemoved: { platform: ChatPlatformName; channelId: string }[];
}

/** Advisory lock serialising the policy's team and channel sync across processes ("pbts"). */
export const POLICY_SYNC_LOCK_KEY = 0x70627473;

export class TeamRepository {
  constructor(private readonly prisma: DbClient) {}

  /** Makes the policy's teams and Slack channels exist; Slack destinations it no longer names are removed. */
  async syncPolicy(teams: readonly TeamDefinition[], now: Date): Promise<TeamSyncResult> {
    const result: TeamSyncResult = { teamsAdded: [], destinationsAdded: [], destinationsRemoved: [] };
    await this.prisma.$transaction(async (tx) => {
      // Processes starting together (several serve and worker processes) sync one after another:
      // the second sees the first's teams instead of failing on their unique names.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${POLICY_SYNC_LOCK_KEY}::bigint)`;
      const wanted = new Map<string, string>();
      for (const t of teams) {
        const existing = await tx.team.findUnique({ where: { name: t.name } });
        const team = existing
          ? await tx.team.update({
              where: { id: existing.id },
              data: { displayName: t.description ?? null, source: 'policy' },
            })
          : await tx.team.create({
              data: { name: t.name, displayName: t.description ?? null, source: 'policy' },
            });
        if (!existing) result.teamsAdded.push(t.name);
        for (const channelId of t.slackChannels) {
          // A channel belongs to the first team that names it.
          if (!wanted.has(channelId)) wanted.set(channelId, team.id);
        }
      }
      const stored = await tx.chatDestination.findMany({ where: { platform: 'slack', source: 'policy' } });
      const byChannel = new Map(stored.map((d) => [d.channelId, d]));
      const teamNames = new Map(
        (await tx.team.findMany({ select: { id: true, name: true } })).map((t) => [t.id, t.name]),
      );
      for (const [channelId, teamId] of wanted) {
        const d = byChannel.get(channelId);
        if (d && d.teamId === teamId && d.removedAt === null) continue;
        await tx.chatDestination.upsert({
          where: { platform_channelId: { platform: 'slack', channelId } },
          create: { platform: 'slack', channelId, teamId, source: 'policy', installedAt: now },
          update: { teamId, removedAt: null, source: 'policy' },
        });
        result.destinationsAdded.push({ team: teamNames.get(teamId) ?? '', platform: 'slack', channelId });
      }
      for (const d of stored) {
        if (wanted.has(d.channelId) || d.removedAt !== null) continue;
        await tx.chatDestination.update({ where: { id: d.id }, data: { removedAt: now } });
        result.destinationsRemoved.push({ platform: 'slack', channelId: d.channelId });
      }
    });
    return result;
  }

  /** The team's current destinations on `platform` (every platform when not given), oldest first. */
  async destinationsOf(team: string, platform?: ChatPlatformName): Promise<DestinationRecord[]> {
    const rows = await this.prisma.chatDestination.findMany({
      where: { team: { name: team }, removedAt: null, ...(platform ? { platform } : {}) },
      include: { team: { select: { name: true } } },
      orderBy: [{ createdAt: 'asc' }, { channelId: 'asc' }],
    });
    return rows.map((r) => ({
      id: r.id,
      team: r.team?.name ?? null,
      platform: r.platform,
      channelId: r.channelId,
    }));
  }

  /** Names of every team, sorted. */
  async names(): Promise<string[]> {
    const rows = await this.prisma.team.findMany({ select: { name: true }, orderBy: { name: 'asc' } });
    return rows.map((r) => r.name);
  }

  /** The team a chat channel (Slack channel id, Teams conversation id) posts for, or null. */
  async teamOfChannel(platform: ChatPlatformName, channelId: string): Promise<string | null> {
    const row = await this.prisma.chatDestination.findUnique({
      where: { platform_channelId: { platform, channelId } },
      select: { removedAt: true, team: { select: { name: true } } },
    });
    return row && row.removedAt === null ? (row.team?.name ?? null) : null;
  }

  async exists(name: string): Promise<boolean> {
    return (await this.prisma.team.count({ where: { name } })) > 0;
  }
  // -------------------------------------------------------------------------------------------
  // Microsoft Teams: destinations come from installation events, mapped to teams by the policy file

  /** Stores (or re-activates) a Teams conversation the bot was installed in. */
  async upsertTeamsDestination(input: TeamsDestinationInput, now: Date): Promise<TeamsDestinationRecord> {
    const teamId =
      input.team === null
        ? null
        : (await this.prisma.team.findUniqueOrThrow({ where: { name: input.team }, select: { id: true } }))
            .id;
    const data = {
      teamId,
      name: input.name ?? null,
      conversationReference: input.conversationReference as Prisma.InputJsonValue,
      serviceUrl: input.serviceUrl,
      tenantId: input.tenantId ?? null,
      installedAt: now,
      removedAt: null,
      ...(input.linked ? {} : { linkedBy: null, linkedAt: null }),
    };
    const row = await this.prisma.chatDestination.upsert({
      where: { platform_channelId: { platform: 'teams', channelId: input.channelId } },
      // The mapping to a team comes from the policy file.
      create: { platform: 'teams', channelId: input.channelId, source: 'policy', ...data },
      update: data,
      include: { team: { select: { name: true } } },
    });
    return teamsRecord(row);
  }

  /** The stored Teams conversation (removed ones too), or undefined. */
  async teamsDestination(channelId: string): Promise<TeamsDestinationRecord | undefined> {
    const row = await this.prisma.chatDestination.findUnique({
      where: { platform_channelId: { platform: 'teams', channelId } },
      include: { team: { select: { name: true } } },
    });
    return row ? teamsRecord(row) : undefined;
  }

  /** Every Teams conversation the bot is installed in (not removed), oldest first. */
  async teamsDestinations(): Promise<TeamsDestinationRecord[]> {
    const rows = await this.prisma.chatDestination.findMany({
      where: { platform: 'teams', removedAt: null },
      include: { team: { select: { name: true } } },
      orderBy: [{ createdAt: 'asc' }, { channelId: 'asc' }],
    });
    return rows.map(teamsRecord);
  }

  /** Maps a Teams conversation to another team (or none); `linked` keeps the mark of a `patch link`. */
  async setTeamsDestinationTeam(channelId: string, team: string | null, linked = false): Promise<void> {
    const teamId =
      team === null
        ? null
        : (await this.prisma.team.findUniqueOrThrow({ where: { name: team }, select: { id: true } })).id;
    await this.prisma.chatDestination.update({
      where: { platform_channelId: { platform: 'teams', channelId } },
      data: { teamId, ...(linked ? {} : { linkedBy: null, linkedAt: null }) },
    });
  }

  /** Binds a Teams conversation to a team at a person's request (`patch link`), audited with them. */
  async linkTeamsDestination(
    channelId: string,
    team: string,
    actor: { id: string; display?: string },
    details: Record<string, unknown>,
    now: Date,
  ): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const { id: teamId } = await tx.team.findUniqueOrThrow({ where: { name: team }, select: { id: true } });
      await tx.chatDestination.update({
        where: { platform_channelId: { platform: 'teams', channelId } },
        data: { teamId, linkedBy: actor.id, linkedAt: now },
      });
      await tx.auditLog.create({
        data: {
          actor: actor.id,
          actorDisplay: actor.display ?? null,
          surface: 'teams',
          action: 'channel.link',
          subjectType: 'chat-destination',
          subjectId: channelId,
          at: now,
          details: { team, ...details },
        },
      });
    });
  }

  /** Marks Teams conversations removed (the bot was uninstalled, the channel deleted); returns how many. */
  async removeTeamsDestinations(channelIds: readonly string[], now: Date): Promise<number> {
    if (channelIds.length === 0) return 0;
    const { count } = await this.prisma.chatDestination.updateMany({
      where: { platform: 'teams', channelId: { in: [...channelIds] }, removedAt: null },
      data: { removedAt: now },
    });
    return count;
  }
}

function teamsRecord(row: {
  id: string;
  team: { name: string } | null;
  channelId: string;
  name: string | null;
  conversationReference: unknown;
  serviceUrl: string | null;
  tenantId: string | null;
  installedAt: Date | null;
  removedAt: Date | null;
  linkedBy: string | null;
  linkedAt: Date | null;
}): TeamsDestinationRecord {
  return {
    id: row.id,
    team: row.team?.name ?? null,
    channelId: row.channelId,
    name: row.name,
    conversationReference: row.conversationReference,
    serviceUrl: row.serviceUrl,
    tenantId: row.tenantId,
    installedAt: row.installedAt,
    removedAt: row.removedAt,
    linkedBy: row.linkedBy,
    linkedAt: row.linkedAt,
  };
}
