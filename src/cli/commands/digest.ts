/**
 * `patchbot digest --now [--team T] [--format text|json]`: runs the weekly digest now, for one
 * team or every team of the policy file whose digest is enabled: stores the week's metric
 * snapshots and posts the digest with its chart to the team's Slack channels. A team whose digest
 * for this week was already posted (by the worker's schedule or an earlier run) is not posted again.
 * Exit code: 0 when every team's digest is posted (now or before); 4 when one was not (no channel,
 * no chat platform, another process posting, a post that failed); 1 when every team's failed.
 */
import os from 'node:os';
import { Option, type Command } from 'commander';
import type { ChatPlatform } from '../../bot/chat-platform.js';
import { createSlackPoster } from '../../bot/slack/index.js';
import { userMessageOf, UsageError } from '../../core/errors.js';
import { runDigest, type DigestResult } from '../../usecases/digest.js';
import { syncDestinations } from '../../usecases/destinations.js';
import { withApp } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

type Format = 'text' | 'json';

/** A team's digest run, or why it failed. */
type TeamDigest = DigestResult | { team: string; outcome: 'failed'; error: string; posted: string[] };

const OUTCOME_TEXT: Record<TeamDigest['outcome'], string> = {
  failed: 'FAILED',
  posted: 'posted',
  'already-posted': 'already posted this week; not posted again',
  'in-progress': 'another process is posting it right now',
  'no-destination': 'not posted: the team has no chat channel (teams[].slack.channels)',
  'no-platform': 'not posted: no chat platform is configured (set SLACK_BOT_TOKEN)',
};

export function registerDigest(program: Command, io: CliIo): void {
  program
    .command('digest')
    .description(
      "Run the weekly digest now (the worker runs it at each team's digest time): store this week's " +
        "metric snapshots and post the digest with its trend chart to the team's channels",
    )
    .requiredOption('--now', 'run it now (required: the schedule is the worker’s)')
    .option('--team <team>', 'only this team (default: every team whose digest is enabled)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      '\nExit status: 0 when every digest is posted (now or earlier this week); 4 when one is not ' +
        '(no channel, no chat platform, a post failed); 1 when all failed; 2 on bad usage.',
    )
    .action(async (o: { now: boolean; team?: string; format: Format }) => {
      await withApp(io, { format: o.format }, async (app) => {
        const policy = app.config.policy;
        let teams: string[];
        if (o.team !== undefined) {
          const known = new Set([...policy.teams.map((t) => t.name), ...(await app.repos.teams.names())]);
          if (!known.has(o.team))
            throw new UsageError(
              `--team: no team named ${JSON.stringify(o.team)}${known.size > 0 ? ` (teams: ${[...known].sort().join(', ')})` : ' (none are defined)'}`,
            );
          teams = [o.team];
        } else {
          teams = policy.teams.filter((t) => t.digest.enabled).map((t) => t.name);
        }
        // The policy file names the teams' channels: make the database agree before posting (no
        // file at all is not an empty one: then the stored channels stay).
        if (app.config.policySource !== 'defaults') await syncDestinations(policy, app.repos, new Date());
        const platforms: ChatPlatform[] = [];
        const slack = app.config.env.slack;
        if (slack)
          platforms.push(
            await createSlackPoster({
              token: slack.botToken,
              ...(slack.apiUrl === undefined ? {} : { apiUrl: slack.apiUrl }),
              logger: app.logger,
            }),
          );
        let user = 'cli';
        try {
          user = os.userInfo().username || user;
        } catch {
          // no user name: "cli" it is
        }
        const results: TeamDigest[] = [];
        for (const team of teams) {
          try {
            results.push(
              await runDigest(
                {
                  repos: app.repos,
                  policy,
                  platforms,
                  now: new Date(),
                  logger: app.logger,
                  claimedBy: `cli:${user}`,
                },
                team,
              ),
            );
          } catch (err) {
            // one team's failure does not keep the others' digests from going out
            results.push({ team, outcome: 'failed', error: userMessageOf(err), posted: [] });
          }
        }
        const delivered = (r: TeamDigest) => r.outcome === 'posted' || r.outcome === 'already-posted';
        const outcome =
          results.length > 0 && results.every(delivered)
            ? 'ok'
            : results.length > 0 && results.every((r) => r.outcome === 'failed')
              ? 'failed'
              : 'partial';
        if (o.format === 'json') {
          writeLine(io.stdout, JSON.stringify({ results, outcome }, null, 2));
        } else {
          if (results.length === 0)
            writeLine(io.stdout, 'not posted: no team has its digest enabled in the policy file');
          for (const r of results) {
            if (r.outcome === 'failed') {
              writeLine(io.stdout, `${r.team}: ${OUTCOME_TEXT[r.outcome]}: ${r.error}`);
              continue;
            }
            writeLine(
              io.stdout,
              `${r.team} (week of ${r.weekStart}): ${OUTCOME_TEXT[r.outcome]}` +
                (r.posted.length > 0
                  ? ` to ${r.posted.join(', ')}${r.chartAttached ? ' with its chart' : ' (chart upload failed)'}`
                  : '') +
                (r.verdict
                  ? `; verdict: ${r.verdict === 'action-required' ? 'Action required' : 'On track'}`
                  : ''),
            );
          }
        }
        if (outcome === 'failed') throw new CliExit(EXIT.error);
        if (outcome === 'partial') throw new CliExit(EXIT.partial);
      });
    });
}
