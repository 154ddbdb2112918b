/**
 * What the chat edge calls when a person does something. The platform adapters (Slack, Teams)
 * verify, parse and acknowledge the request, then hand these platform-neutral calls to the
 * approval and status use cases, which answer through `respond` or a ChatPlatform.
 */
import type { MessageRef, PlatformName } from './chat-platform.js';
import type { PatchCommand } from './commands.js';
import type { CampaignActionKind, MessageContent, ModalRequest, ModalSubmission } from './views/index.js';

/** The person who clicked, submitted or typed. */
export interface ChatUser {
  platform: PlatformName;
  /** Slack user id (U…/W…) / Teams AAD object id. */
  id: string;
  /** Slack workspace (T…) / Teams tenant. */
  teamId?: string;
  name?: string;
}

/** Answers the person where they acted (Slack `response_url`): ephemeral unless said otherwise. */
export type Respond = (
  content: MessageContent,
  options?: { visibility?: 'ephemeral' | 'channel'; replaceOriginal?: boolean },
) => Promise<void>;

export interface ActionInput {
  kind: CampaignActionKind;
  changeId: string;
  user: ChatUser;
  /** The campaign message the button was on. */
  message?: MessageRef;
  respond: Respond;
}

/** What the edge does after the handler ran: nothing more, tell the person something, or open a dialog. */
export type ActionResult =
  { type: 'done' } | { type: 'notice'; content: MessageContent } | { type: 'modal'; modal: ModalRequest };

export interface SubmissionInput {
  submission: ModalSubmission;
  user: ChatUser;
  /** The campaign message the dialog was opened from. */
  message?: MessageRef;
  respond: Respond;
}

/**
 * The dialog is already closed when the handler runs (the edge validates the fields and
 * acknowledges at once); `notice` is shown to the person afterwards (a refusal, a confirmation).
 */
export interface SubmissionResult {
  notice?: MessageContent;
}

export interface CommandInput {
  command: PatchCommand;
  /** The raw text after the command. */
  text: string;
  user: ChatUser;
  /** Where the command was typed. */
  channel: string;
  /** Microsoft Teams: what kind of conversation it was typed in, and the Teams team of a channel. */
  teams?: { kind: 'channel' | 'groupChat' | 'personal'; teamsTeamId?: string };
  respond: Respond;
  /**
   * Slack's response_url for this command (valid 30 minutes, 5 answers), so slow work can answer
   * from a background job. Absent on platforms without one.
   */
  responseUrl?: string;
}

export interface ChatHandlers {
  onAction(input: ActionInput): Promise<ActionResult>;
  onViewSubmission(input: SubmissionInput): Promise<SubmissionResult>;
  /** Called for every command except help and unknown ones, which the edge answers itself. */
  onCommand(input: CommandInput): Promise<void>;
}
