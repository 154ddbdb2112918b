/**
 * The ChatHandlers `patchbot serve` gives the chat edges. Every button, dialog and command is
 * first checked against the policy file's roles (the refusal, shown to the person only, names the
 * role needed); then buttons, dialogs and `/patch request|approve|reject` go to the approval
 * handlers, `/patch status|coverage` to the status handler, `/patch digest` and `patch link` to
 * theirs. Every request is counted for /metrics.
 */
import type { ChatAction } from '../../core/policy/roles.js';
import type {
  ActionInput,
  ActionResult,
  ChatHandlers,
  ChatUser,
  CommandInput,
  SubmissionInput,
  SubmissionResult,
} from '../handlers.js';
import { notice } from '../views/index.js';
import { createStatusCommandHandler, type CommandHandlerDeps } from './commands.js';

/** The part of the approval handlers this composition calls. */
export interface ApprovalHandlers {
  onAction(input: ActionInput): Promise<ActionResult>;
  onViewSubmission(input: SubmissionInput): Promise<SubmissionResult>;
  /** `/patch request|approve|reject`. */
  onCommand(input: CommandInput): Promise<void>;
}

export interface ChatMetrics {
  request(kind: 'command' | 'action' | 'submission', name: string): void;
  decision(kind: string, outcome: string): void;
}

export interface ChatHandlerDeps {
  approvals: ApprovalHandlers;
  status: CommandHandlerDeps;
  /** Why a person may not do an action (the role it needs); without it everyone may. */
  roles?: (user: ChatUser, action: ChatAction) => Promise<string | undefined>;
  /** `/patch digest [team]`: posts the team's weekly digest now. */
  digest?: (input: CommandInput, team: string | undefined) => Promise<void>;
  /** `patch link <team>`: binds the Teams channel the command was typed in to a team. */
  link?: (input: CommandInput, team: string) => Promise<void>;
  metrics?: ChatMetrics;
}

export function createChatHandlers(deps: ChatHandlerDeps): ChatHandlers {
  const status = createStatusCommandHandler(deps.status);
  const m = deps.metrics;
  const refusalFor = (user: ChatUser, action: ChatAction) =>
    deps.roles ? deps.roles(user, action) : Promise.resolve(undefined);
  return {
    async onAction(input) {
      m?.request('action', input.kind);
      const refused = await refusalFor(input.user, input.kind);
      if (refused) {
        m?.decision(input.kind, 'role');
        return { type: 'notice', content: notice('warning', refused) };
      }
      try {
        const result = await deps.approvals.onAction(input);
        if (input.kind !== 'details') m?.decision(input.kind, result.type);
        return result;
      } catch (err) {
        if (input.kind !== 'details') m?.decision(input.kind, 'error');
        throw err;
      }
    },
    async onViewSubmission(input) {
      m?.request('submission', input.submission.kind);
      const refused = await refusalFor(input.user, input.submission.kind);
      if (refused) {
        m?.decision(input.submission.kind, 'role');
        return { notice: notice('warning', refused) };
      }
      try {
        const result = await deps.approvals.onViewSubmission(input);
        m?.decision(input.submission.kind, result.notice?.type === 'notice' ? result.notice.tone : 'done');
        return result;
      } catch (err) {
        m?.decision(input.submission.kind, 'error');
        throw err;
      }
    },
    async onCommand(input) {
      const c = input.command;
      m?.request('command', c.kind);
      if (c.kind !== 'help' && c.kind !== 'unknown') {
        const refused = await refusalFor(input.user, c.kind);
        if (refused) {
          await input.respond(notice('warning', refused));
          return;
        }
      }
      switch (c.kind) {
        case 'request':
        case 'approve':
        case 'reject':
          await deps.approvals.onCommand(input);
          return;
        case 'digest':
          if (deps.digest) await deps.digest(input, c.team);
          else await input.respond(notice('warning', 'Digests are not posted from this patchbot'));
          return;
        case 'link':
          if (deps.link) await deps.link(input, c.team);
          else await input.respond(notice('warning', 'Linking channels is not available in this patchbot'));
          return;
        case 'status':
        case 'coverage':
        case 'help':
        case 'unknown':
          await status(input);
          return;
      }
    },
  };
}

export { answerCommand, answerQueuedCommand, createStatusCommandHandler, isSlowCommand } from './commands.js';
export type { CommandHandlerDeps, QueuedCommand } from './commands.js';
