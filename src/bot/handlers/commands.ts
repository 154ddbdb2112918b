/**
 * `/patch status [target]` and `/patch coverage [team]`. The edge has already acknowledged the
 * command; the answer goes through `respond` (Slack's response_url). Fleet- and team-wide queries
 * may be slow on a large fleet: with a queue they run as a `chat.command` job that answers through
 * the same response_url; lookups of one host, CVE or advisory are answered at once.
 */
import type { Logger } from 'pino';
import type { PatchCommand } from '../commands.js';
import { parsePatchCommand } from '../commands.js';
import type { ChatUser, CommandInput } from '../handlers.js';
import { notice, patchHelp, type MessageContent } from '../views/index.js';
import { coverageView } from '../../usecases/metrics.js';
import { statusFor, type StatusDeps } from '../../usecases/status.js';

export interface QueuedCommand {
  text: string;
  user: ChatUser;
  channel: string;
  responseUrl: string;
}

export interface CommandHandlerDeps {
  repos: StatusDeps['repos'];
  policy: StatusDeps['policy'];
  now?: () => Date;
  logger: Logger;
  /** Queues a slow command as a `chat.command` job; without it every command is answered in-process. */
  enqueue?: (command: QueuedCommand) => Promise<void>;
  /** The slash command as people type it (help texts). */
  command?: string;
}

/** Fleet-wide and team-wide aggregates: worth a job. */
export function isSlowCommand(command: PatchCommand): boolean {
  if (command.kind === 'coverage') return true;
  if (command.kind !== 'status') return false;
  return command.target === undefined || command.target.kind === 'team' || command.target.kind === 'name';
}

/** The answer to a status or coverage command. */
export async function answerCommand(
  deps: Pick<CommandHandlerDeps, 'repos' | 'policy' | 'now' | 'command'>,
  command: PatchCommand,
): Promise<MessageContent> {
  const now = (deps.now ?? (() => new Date()))();
  const ctx: StatusDeps = { repos: deps.repos, policy: deps.policy, now };
  switch (command.kind) {
    case 'status':
      return statusFor(ctx, command.target);
    case 'coverage':
      return coverageView(ctx, command.team);
    case 'help':
      return patchHelp(deps.command ?? '/patch');
    case 'unknown':
      return patchHelp(deps.command ?? '/patch', command.problem);
    case 'request':
    case 'approve':
    case 'reject':
    case 'digest':
    case 'link':
      return notice('error', `\`${command.kind}\` is answered by its own handler, not by status`);
  }
}

/** Answers a queued command (the `chat.command` job): the text is parsed again, as any input. */
export async function answerQueuedCommand(
  deps: Pick<CommandHandlerDeps, 'repos' | 'policy' | 'now' | 'command'>,
  text: string,
): Promise<MessageContent> {
  return answerCommand(deps, parsePatchCommand(text));
}

/** The `onCommand` of status and coverage. */
export function createStatusCommandHandler(deps: CommandHandlerDeps): (input: CommandInput) => Promise<void> {
  const log = deps.logger.child({ name: 'commands' });
  return async (input) => {
    if (deps.enqueue && input.responseUrl !== undefined && isSlowCommand(input.command)) {
      try {
        await deps.enqueue({
          text: input.text,
          user: input.user,
          channel: input.channel,
          responseUrl: input.responseUrl,
        });
        log.debug({ command: input.command.kind }, 'command queued');
        return;
      } catch (err) {
        // The queue is down: answer here rather than not at all.
        log.warn({ err }, 'could not queue the command; answering in-process');
      }
    }
    await input.respond(await answerCommand(deps, input.command));
  };
}
