/**
 * What the Teams edge does with each authenticated activity:
 *
 * - `invoke` `adaptiveCard/action` (Universal Actions, a card's Action.Execute): the verb is the
 *   campaign button (approve, reject, defer, accept_risk, pause, resume, abort, rollback, details),
 *   `data.changeId` the change. The platform-neutral handlers decide; the invoke is answered with a
 *   card for the person who clicked: the refreshed campaign card (with any notice, such as a
 *   refusal, above it), a decision form (reject, defer, accept risk), or an "are you sure?" card
 *   (abort, roll back). After a decision the message is also updated in place for everyone.
 * - `message`: "patch status [x]", "patch coverage [team]", "patch help" (with or without an
 *   @mention, "patch" optional), answered in the conversation (in the thread, in a channel).
 *   Commands run after the request is acknowledged.
 * - `conversationUpdate` / `installationUpdate`: the bot added to or removed from a team, chat or
 *   channel, channels created, renamed or deleted: the conversations are stored and mapped to a
 *   patchbot team (usecases/teams-installations.ts).
 */
import { ActivityTypes, TeamsInfo, type CloudAdapter, type TurnContext } from 'botbuilder';
import type { Logger } from 'pino';
import { PatchbotError, userMessageOf } from '../../core/errors.js';
import {
  baseConversationId,
  type InstallationResult,
  type RemovalTarget,
  type StoredTeamsConversation,
  type TeamsConversation,
  type TeamsConversationKind,
} from '../../usecases/teams-installations.js';
import type { MessageRef } from '../chat-platform.js';
import { parsePatchCommand } from '../commands.js';
import type { ChatHandlers, ChatUser, Respond } from '../handlers.js';
import {
  CAMPAIGN_ACTIONS,
  CONFIRMED_ACTIONS,
  isoDay,
  notice,
  patchHelp,
  type CampaignActionKind,
  type CampaignView,
  type MessageContent,
  type NoticeView,
} from '../views/index.js';
import { adaptiveCard, CARD_CONTENT_TYPE } from './cards.js';
import { connectorOf, messageActivity, withConversation } from './connector.js';
import { ChangeId, CONFIRM_STEP, isSubmission, parseForm, renderConfirm, renderForm } from './forms.js';
import { ExecuteValue, InboundActivity, TeamChannel, TeamsChannelData } from './payloads.js';
import type { TeamsPoster } from './poster.js';
import {
  CAMPAIGN_VERBS,
  CONFIRM,
  fit,
  noticeBlock,
  REFRESH_VERB,
  renderCampaignWithNotices,
  renderCard,
  type TeamsMessage,
} from './render.js';

/** Where the edge keeps the conversations the bot is installed in. */
export interface TeamsConversationStore {
  installed(conversations: TeamsConversation[]): Promise<InstallationResult[]>;
  removed(target: RemovalTarget): Promise<number>;
  find(conversationId: string): Promise<StoredTeamsConversation | undefined>;
  /** Stored conversations of one Teams team. */
  ofTeam(teamsTeamId: string): Promise<StoredTeamsConversation[]>;
}

export interface TeamsBotDeps {
  adapter: CloudAdapter;
  appId: string;
  handlers: ChatHandlers;
  /** The campaign card of a change as it is now. */
  cardFor: (changeId: string) => Promise<CampaignView>;
  conversations: TeamsConversationStore;
  poster: TeamsPoster;
  logger: Logger;
  now: () => Date;
  /** Runs work after the request was answered (commands); the edge waits for it on stop. */
  track: (work: () => Promise<void>) => void;
  /** The command word people type (default "patch"). */
  command?: string;
}

const DECISION_FORMS = new Set<CampaignActionKind>(['request', 'reject', 'defer', 'accept_risk']);
const KIND_BY_VERB = new Map<string, CampaignActionKind>(CAMPAIGN_ACTIONS.map((k) => [CAMPAIGN_VERBS[k], k]));
const INSTALL_ACTIONS = new Set(['add', 'add-upgrade']);
const UNINSTALL_ACTIONS = new Set(['remove', 'remove-upgrade']);

/** "19:…@thread.tacv2;messageid=1712345" -> "1712345" (the channel thread's root). */
function threadRootOf(conversationId: string): string | undefined {
  return /;messageid=([^;]+)/.exec(conversationId)?.[1];
}

const capitalize = (s: string) => (s === '' ? s : `${s[0].toUpperCase()}${s.slice(1)}`);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a person without an Entra object id is told (guest and bot accounts may have none). */
const NO_IDENTITY = notice(
  'warning',
  'patchbot cannot tell who you are: Teams sent no Entra object id for your account, so it takes no action or command from it',
);

/** The command text of a message: mentions, markup and the leading "patch" taken away. */
export function commandText(raw: string, command = 'patch'): string {
  const plain = raw
    .replace(/<at>[\s\S]*?<\/at>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&quot;/gi, '"')
    .replace(/&#39;/gi, "'")
    .replace(/&amp;/gi, '&')
    .trim();
  const word = command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^/?${word}(?:\\s+|$)`, 'i').exec(plain);
  return m ? plain.slice(m[0].length).trim() : plain;
}

export class TeamsBot {
  private readonly log: Logger;
  private readonly command: string;

  constructor(private readonly deps: TeamsBotDeps) {
    this.log = deps.logger.child({ name: 'teams' });
    this.command = deps.command ?? 'patch';
  }

  async run(ctx: TurnContext): Promise<void> {
    const parsed = InboundActivity.safeParse(ctx.activity);
    if (!parsed.success) {
      this.log.warn({ issues: parsed.error.issues.slice(0, 5) }, 'Unexpected Teams activity');
      if (ctx.activity.type === 'invoke')
        await this.answer(ctx, {
          statusCode: 400,
          type: 'application/vnd.microsoft.error',
          value: { code: 'BadRequest', message: 'unexpected activity' },
        });
      return;
    }
    const a = parsed.data;
    switch (a.type) {
      case 'invoke':
        if (a.name === 'adaptiveCard/action') await this.onExecute(ctx, a);
        return;
      case 'message':
        this.onMessage(a);
        return;
      case 'conversationUpdate':
        await this.onConversationUpdate(ctx, a);
        return;
      case 'installationUpdate':
        await this.onInstallationUpdate(ctx, a);
        return;
      default:
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Universal Actions

  private async onExecute(ctx: TurnContext, a: InboundActivity): Promise<void> {
    const value = ExecuteValue.safeParse(a.value);
    if (!value.success) {
      await this.answer(ctx, {
        statusCode: 400,
        type: 'application/vnd.microsoft.error',
        value: { code: 'BadRequest', message: 'expected an Action.Execute' },
      });
      return;
    }
    const { verb } = value.data.action;
    const data = value.data.action.data ?? {};
    const changeId = ChangeId.safeParse(data.changeId);
    if (!changeId.success) {
      await this.answerCard(
        ctx,
        this.noticesCard([notice('error', 'This card is out of date: it names no change.')]),
      );
      return;
    }
    const id = changeId.data;
    const today = isoDay(this.deps.now());
    const user = this.chatUser(a);
    const message = this.messageRef(a);
    const notices: NoticeView[] = [];
    if (user === undefined) {
      await this.answerCard(ctx, await this.currentCard(id, [NO_IDENTITY]));
      return;
    }
    let answered = false;
    // Notices before the answer go on the card; anything else (or later) is a reply in the thread.
    const respond: Respond = async (content) => {
      if (!answered && content.type === 'notice') {
        notices.push(content);
        return;
      }
      await this.replyTo(a, content);
    };
    const finish = async (msg: TeamsMessage) => {
      answered = true;
      await this.answerCard(ctx, msg);
    };
    try {
      if (verb === REFRESH_VERB) return await finish(await this.currentCard(id, notices));
      const kind = KIND_BY_VERB.get(verb);
      if (kind === undefined) {
        notices.push(notice('error', `This button (${verb.slice(0, 40)}) is not one patchbot knows.`));
        return await finish(await this.currentCard(id, notices));
      }
      const common = { user, ...(message ? { message } : {}), respond };
      if (DECISION_FORMS.has(kind) && isSubmission(data)) {
        const form = parseForm(kind as 'request' | 'reject' | 'defer' | 'accept_risk', data, today);
        if (form === undefined) {
          notices.push(notice('warning', 'This form is out of date; click the button again.'));
          return await finish(await this.currentCard(id, notices));
        }
        if (!form.ok) return await finish(renderForm(form.request, today, form.errors, form.values));
        const result = await this.deps.handlers.onViewSubmission({ submission: form.submission, ...common });
        if (result.notice) await respond(result.notice);
        if (!notices.some(refusal)) await this.replaceForAll(ctx, a, id);
        return await finish(await this.currentCard(id, notices));
      }
      const confirm = CONFIRM[kind];
      if (CONFIRMED_ACTIONS.has(kind) && confirm && data.step !== CONFIRM_STEP)
        return await finish(renderConfirm(verb, id, confirm));
      const result = await this.deps.handlers.onAction({ kind, changeId: id, ...common });
      switch (result.type) {
        case 'modal':
          return await finish(renderForm(result.modal, today));
        case 'notice':
          await respond(result.content);
          return await finish(await this.currentCard(id, notices));
        case 'done':
          if (kind !== 'details' && !notices.some(refusal)) await this.replaceForAll(ctx, a, id);
          return await finish(await this.currentCard(id, notices));
      }
    } catch (err) {
      const safe = err instanceof PatchbotError;
      this.log[safe ? 'warn' : 'error']({ err, verb, changeId: id }, 'Teams card action failed');
      notices.push(
        safe
          ? notice(err.code === 'POLICY_DENIED' ? 'warning' : 'error', userMessageOf(err))
          : notice('error', 'Something went wrong; the error was logged.'),
      );
      if (!answered) await finish(await this.currentCard(id, notices));
    }
  }

  /** The campaign card as it is now with `notices` above it; the notices alone when it cannot be built. */
  private async currentCard(changeId: string, notices: NoticeView[]): Promise<TeamsMessage> {
    let view: CampaignView;
    try {
      view = await this.deps.cardFor(changeId);
    } catch (err) {
      this.log.warn({ err, changeId }, 'Could not build the campaign card');
      return this.noticesCard(
        notices.length > 0
          ? notices
          : [notice('error', userMessageOf(err) || 'This change could not be found.')],
      );
    }
    return renderCampaignWithNotices(view, notices, this.deps.poster.maxMessageBytes);
  }

  private noticesCard(notices: NoticeView[]): TeamsMessage {
    return fit(
      () => ({
        summary: notices[0]?.text ?? 'patchbot',
        card: adaptiveCard(notices.map(noticeBlock), { fallbackText: notices[0]?.text ?? 'patchbot' }),
      }),
      this.deps.poster.maxMessageBytes,
    );
  }

  /** Updates the clicked message for everyone (the invoke's answer only replaces it for the clicker). */
  private async replaceForAll(ctx: TurnContext, a: InboundActivity, changeId: string): Promise<void> {
    const messageId = a.replyToId;
    if (messageId === undefined) return;
    try {
      const view = await this.deps.cardFor(changeId);
      const activity = {
        ...messageActivity(renderCard(view, this.deps.poster.maxMessageBytes)),
        id: messageId,
      };
      const conversation = baseConversationId(a.conversation.id);
      await this.deps.poster.withRetry(`update of ${messageId} in ${conversation}`, () =>
        connectorOf(ctx).updateActivity(conversation, messageId, activity),
      );
    } catch (err) {
      this.log.warn({ err, changeId }, 'Could not update the campaign card for everyone');
    }
  }

  private async answerCard(ctx: TurnContext, msg: TeamsMessage): Promise<void> {
    await this.answer(ctx, { statusCode: 200, type: CARD_CONTENT_TYPE, value: msg.card });
  }

  private async answer(
    ctx: TurnContext,
    body: { statusCode: number; type: string; value: unknown },
  ): Promise<void> {
    await ctx.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body } });
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  private onMessage(a: InboundActivity): void {
    if (a.from.id === a.recipient.id || a.text === undefined) return;
    const text = commandText(a.text, this.command).slice(0, 4000);
    const cmd = parsePatchCommand(text);
    const respond: Respond = (content) => this.replyTo(a, content);
    this.deps.track(async () => {
      try {
        if (cmd.kind === 'help' || cmd.kind === 'unknown') {
          await respond(
            patchHelp(this.command, cmd.kind === 'unknown' ? capitalize(cmd.problem) : undefined),
          );
          return;
        }
        const user = this.chatUser(a);
        if (user === undefined) {
          await respond(NO_IDENTITY);
          return;
        }
        const conv = this.conversationFrom(a);
        await this.deps.handlers.onCommand({
          command: cmd,
          text,
          user,
          channel: baseConversationId(a.conversation.id),
          teams: {
            kind: conv.kind,
            ...(conv.teamsTeam ? { teamsTeamId: conv.teamsTeam.id } : {}),
          },
          respond,
        });
      } catch (err) {
        const safe = err instanceof PatchbotError;
        this.log[safe ? 'warn' : 'error']({ err, command: cmd.kind }, 'Teams command failed');
        try {
          await respond(
            safe
              ? notice(err.code === 'POLICY_DENIED' ? 'warning' : 'error', userMessageOf(err))
              : notice('error', 'Something went wrong; the error was logged.'),
          );
        } catch (respondErr) {
          this.log.warn({ err: respondErr }, 'Could not tell the person about a failure');
        }
      }
    });
  }

  /** Answers in the conversation of `a`: in its thread in a channel, as a new message in a chat. */
  private async replyTo(a: InboundActivity, content: MessageContent): Promise<void> {
    const conv = this.conversationFrom(a);
    const activity = messageActivity(renderCard(content, this.deps.poster.maxMessageBytes));
    const root = threadRootOf(a.conversation.id) ?? a.replyToId ?? a.id;
    await withConversation(this.deps.adapter, this.deps.appId, conv.reference, (c) =>
      this.deps.poster.withRetry(`answer in ${conv.id}`, () =>
        conv.kind === 'channel' && root !== undefined
          ? c.replyToActivity(conv.id, root, activity)
          : c.sendToConversation(conv.id, activity),
      ),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Installation

  private async onConversationUpdate(ctx: TurnContext, a: InboundActivity): Promise<void> {
    const cd = this.channelData(a);
    const botId = a.recipient.id;
    if (a.membersAdded?.some((m) => m.id === botId)) await this.install(ctx, a);
    if (a.membersRemoved?.some((m) => m.id === botId)) await this.uninstall(a);
    switch (cd.eventType) {
      case 'channelCreated':
      case 'channelRenamed':
      case 'channelRestored':
        if (cd.channel && cd.team) await this.record([this.conversationFrom(a, cd.channel)]);
        return;
      case 'channelDeleted':
        if (cd.channel)
          await this.removed(
            { conversationIds: [cd.channel.id] },
            `channel ${cd.channel.name ?? cd.channel.id} deleted`,
          );
        return;
      case 'teamDeleted':
        if (cd.team)
          await this.removed({ teamsTeamId: cd.team.id }, `team ${cd.team.name ?? cd.team.id} deleted`);
        return;
      case 'teamRenamed': {
        const team = cd.team;
        if (team?.name === undefined) return;
        const stored = await this.deps.conversations.ofTeam(team.id);
        await this.record(
          stored.map(({ team: _t, removed: _r, ...c }) => ({
            ...c,
            teamsTeam: { id: team.id, name: team.name },
          })),
        );
        return;
      }
      default:
        return;
    }
  }

  private async onInstallationUpdate(ctx: TurnContext, a: InboundActivity): Promise<void> {
    const action = a.action ?? '';
    if (INSTALL_ACTIONS.has(action)) await this.install(ctx, a);
    else if (UNINSTALL_ACTIONS.has(action)) await this.uninstall(a);
  }

  /** The bot was added: the conversation and, in a team, every channel of the team. */
  private async install(ctx: TurnContext, a: InboundActivity): Promise<void> {
    const cd = this.channelData(a);
    const here = this.conversationFrom(a);
    const conversations = [here];
    if (here.kind === 'channel' && cd.team) {
      try {
        const channels = await TeamsInfo.getTeamChannels(ctx, cd.team.id);
        for (const raw of channels ?? []) {
          const ch = TeamChannel.safeParse(raw);
          if (!ch.success || ch.data.id === here.id) continue;
          conversations.push(
            this.conversationFrom(a, { id: ch.data.id, ...(ch.data.name ? { name: ch.data.name } : {}) }),
          );
        }
      } catch (err) {
        this.log.warn(
          { err: userMessageOf(err), team: cd.team.name ?? cd.team.id },
          'Could not list the channels of the team; only the conversation the app was added in is stored',
        );
      }
    }
    await this.record(conversations);
  }

  private async uninstall(a: InboundActivity): Promise<void> {
    const cd = this.channelData(a);
    if (cd.team)
      await this.removed({ teamsTeamId: cd.team.id }, `removed from team ${cd.team.name ?? cd.team.id}`);
    else await this.removed({ conversationIds: [a.conversation.id] }, 'removed from the chat');
  }

  private async record(conversations: TeamsConversation[]): Promise<void> {
    if (conversations.length === 0) return;
    const results = await this.deps.conversations.installed(conversations);
    for (const r of results) {
      if (r.team === null)
        this.log.warn(
          { conversation: r.id, name: r.name, teamsTeamId: r.teamsTeamId },
          r.teamsTeamId
            ? "patchbot was added to a Teams channel that no team is bound to: run `patch link <team>` in it (admins), or add { teamId: <teamsTeamId>, channelId: <conversation> } to a team's msteams.channels and restart patchbot"
            : "patchbot was added to a Teams chat that no team is bound to: add its id to a team's msteams.conversations and restart patchbot",
        );
      else
        this.log.info(
          { conversation: r.id, name: r.name, team: r.team },
          'Teams conversation mapped to a team',
        );
    }
  }

  private async removed(target: RemovalTarget, why: string): Promise<void> {
    const n = await this.deps.conversations.removed(target);
    this.log.info({ conversations: n, why }, 'Teams conversations removed');
  }

  // -------------------------------------------------------------------------------------------
  // Activity helpers

  private channelData(a: InboundActivity): TeamsChannelData {
    const cd = TeamsChannelData.safeParse(a.channelData ?? {});
    return cd.success ? cd.data : {};
  }

  private tenantOf(a: InboundActivity): string | undefined {
    return a.conversation.tenantId ?? this.channelData(a).tenant?.id;
  }

  /**
   * The person, by their Entra object id only (the id patchbot's roles and approvers name); a
   * Bot Framework `from.id` is never taken for one. Undefined when Teams sent none.
   */
  private chatUser(a: InboundActivity): ChatUser | undefined {
    const tenant = this.tenantOf(a);
    const aad = a.from.aadObjectId?.trim();
    if (!aad || !GUID.test(aad)) return undefined;
    return {
      platform: 'teams',
      id: aad.toLowerCase(),
      ...(tenant ? { teamId: tenant } : {}),
      ...(a.from.name ? { name: a.from.name } : {}),
    };
  }

  /** The message a card action came from. */
  private messageRef(a: InboundActivity): MessageRef | undefined {
    if (a.replyToId === undefined) return undefined;
    const root = threadRootOf(a.conversation.id);
    return {
      platform: 'teams',
      channel: baseConversationId(a.conversation.id),
      id: a.replyToId,
      ...(root !== undefined && root !== a.replyToId ? { threadId: root } : {}),
    };
  }

  /** The activity's conversation (or one channel of its team) as something to store and post to. */
  private conversationFrom(a: InboundActivity, channel?: { id: string; name?: string }): TeamsConversation {
    const cd = this.channelData(a);
    const type = a.conversation.conversationType;
    const kind: TeamsConversationKind =
      channel !== undefined || type === 'channel' || (type === undefined && cd.team !== undefined)
        ? 'channel'
        : type === 'groupChat' || (type === undefined && a.conversation.isGroup === true)
          ? 'groupChat'
          : 'personal';
    const id = channel?.id ?? baseConversationId(a.conversation.id);
    const tenantId = this.tenantOf(a);
    const here = channel ?? (kind === 'channel' ? (cd.channel ?? { id }) : undefined);
    return {
      id,
      kind,
      ...(tenantId ? { tenantId } : {}),
      serviceUrl: a.serviceUrl,
      ...(cd.team ? { teamsTeam: { id: cd.team.id, ...(cd.team.name ? { name: cd.team.name } : {}) } } : {}),
      ...(here ? { channel: { id: here.id, ...(here.name ? { name: here.name } : {}) } } : {}),
      ...(kind !== 'channel' && a.conversation.name ? { chatName: a.conversation.name } : {}),
      reference: {
        channelId: a.channelId,
        serviceUrl: a.serviceUrl,
        conversation: {
          id,
          conversationType: kind,
          ...(tenantId ? { tenantId } : {}),
          isGroup: kind !== 'personal',
        },
        bot: { id: a.recipient.id, ...(a.recipient.name ? { name: a.recipient.name } : {}) },
      },
    };
  }
}

const refusal = (n: NoticeView) => n.tone === 'warning' || n.tone === 'error';
