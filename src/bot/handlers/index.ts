/**
 * The ChatHandlers `patchbot serve` gives the chat edges: buttons, dialogs and `/patch approve|reject`
 * go to the approval handlers; `/patch status|coverage` to the status handler. Every request is
 * counted for /metrics.
 */
import type {
  ActionInput,
  ActionResult,
  ChatHandlers,
  CommandInput,
  SubmissionInput,
  SubmissionResult,
} from '../handlers.js';
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
  metrics?: ChatMetrics;
}

export function createChatHandlers(deps: ChatHandlerDeps): ChatHandlers {
  const status = createStatusCommandHandler(deps.status);
  const m = deps.metrics;
  return {
    async onAction(input) {
      m?.request('action', input.kind);
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
      m?.request('command', input.command.kind);
      switch (input.command.kind) {
        case 'request':
        case 'approve':
        case 'reject':
          await deps.approvals.onCommand(input);
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
