/**
 * `/patch digest [team]` (Slack) and `patch digest [team]` (Teams): posts the team's weekly digest
 * now, as the worker does at the team's digest time (one per team and week: a week already posted
 * is not posted again). Without a team, the team the channel posts for.
 */
import type { ChatPlatform } from '../bot/chat-platform.js';
import type { CommandInput } from '../bot/handlers.js';
import { notice } from '../bot/views/index.js';
import type { Logger } from 'pino';
import { runDigest, type DigestDeps, type DigestResult } from './digest.js';

export interface DigestCommandDeps {
  repos: DigestDeps['repos'];
  policy: DigestDeps['policy'];
  platforms: () => readonly ChatPlatform[];
  now: () => Date;
  logger: Logger;
}

const OUTCOME: Record<DigestResult['outcome'], string> = {
  posted: 'posted',
  'already-posted': 'was already posted this week; it is not posted twice',
  'in-progress': 'is being posted right now by another patchbot process',
  'no-destination': 'was not posted: the team has no chat channel',
  'no-platform': 'was not posted: no chat platform is configured',
};

export function createDigestCommand(
  deps: DigestCommandDeps,
): (input: CommandInput, team: string | undefined) => Promise<void> {
  return async (input, named) => {
    const team = named ?? (await deps.repos.teams.teamOfChannel(input.user.platform, input.channel));
    if (team === null) {
      await input.respond(
        notice('warning', 'This channel posts for no team: name one, e.g. `digest payments`'),
      );
      return;
    }
    if (!deps.policy.teams.some((t) => t.name === team)) {
      await input.respond(notice('warning', `No team named ${JSON.stringify(team)} in the policy file`));
      return;
    }
    const result = await runDigest(
      {
        repos: deps.repos,
        policy: deps.policy,
        platforms: deps.platforms(),
        now: deps.now(),
        logger: deps.logger,
        claimedBy: `${input.user.platform}:${input.user.id}`,
      },
      team,
    );
    const where = result.posted.length > 0 ? ` to ${result.posted.length} channel(s)` : '';
    await input.respond(
      notice(
        result.outcome === 'posted' ? 'success' : 'info',
        `The weekly digest of ${team} (week of ${result.weekStart}) ${OUTCOME[result.outcome]}${where}`,
      ),
    );
  };
}
