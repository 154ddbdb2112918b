/**
 * Universal Actions (Action.Execute) and commands through the real CloudAdapter: each button of a
 * posted campaign card reaches the platform-neutral handlers with the Teams user (Entra object
 * id, tenant, name) and the message, and the invoke is answered with a card: the refreshed
 * campaign, a decision form, a confirmation, or the refusal above the campaign. Text messages
 * "patch …" reach onCommand and are answered in the thread.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PolicyDeniedError } from '../../../src/core/errors.js';
import type {
  ActionInput,
  ActionResult,
  ChatHandlers,
  CommandInput,
  SubmissionInput,
  SubmissionResult,
} from '../../../src/bot/handlers.js';
import { notice, type CampaignView } from '../../../src/bot/views/index.js';
import { cardOf } from '../../fakes/teams-connector.js';
import {
  execute,
  memoryConversations,
  messageTo,
  PATCHING,
  PAYMENTS_TEAM,
  PEOPLE,
  sampleCampaign,
  startTeamsWorld,
  TENANT,
  WEB_CHAT,
  type Person,
  type TeamsWorld,
} from './support.js';

class Handlers implements ChatHandlers {
  actions: ActionInput[] = [];
  submissions: SubmissionInput[] = [];
  commands: CommandInput[] = [];
  onActionImpl: (i: ActionInput) => Promise<ActionResult> = () => Promise.resolve({ type: 'done' });
  onSubmissionImpl: (i: SubmissionInput) => Promise<SubmissionResult> = () => Promise.resolve({});
  onAction(i: ActionInput) {
    this.actions.push(i);
    return this.onActionImpl(i);
  }
  onViewSubmission(i: SubmissionInput) {
    this.submissions.push(i);
    return this.onSubmissionImpl(i);
  }
  async onCommand(i: CommandInput) {
    this.commands.push(i);
    await i.respond({ type: 'notice', tone: 'info', text: `answer to ${i.command.kind}` });
  }
}

const handlers = new Handlers();
let view: CampaignView = sampleCampaign();
let w: TeamsWorld;
let cardId: string;
const CHANGE = sampleCampaign().changeId;

beforeAll(async () => {
  w = await startTeamsWorld({
    handlers,
    cardFor: (id) => (id === CHANGE ? Promise.resolve(view) : Promise.reject(new Error(`no change ${id}`))),
    conversations: (serviceUrl) => memoryConversations(serviceUrl),
    now: () => new Date('2026-03-02T09:00:00Z'),
  });
});
afterAll(async () => {
  await w?.close();
});
beforeEach(async () => {
  handlers.actions = [];
  handlers.submissions = [];
  handlers.commands = [];
  handlers.onActionImpl = () => Promise.resolve({ type: 'done' });
  handlers.onSubmissionImpl = () => Promise.resolve({});
  view = sampleCampaign();
  cardId = (await w.edge.poster.post({ channel: PATCHING }, view)).id;
});

const inChannel = () => ({
  serviceUrl: w.connector.serviceUrl,
  conversationId: `${PATCHING};messageid=${cardId}`,
  team: { id: PAYMENTS_TEAM.id, name: PAYMENTS_TEAM.name },
  channel: { id: PATCHING, name: 'Patching' },
});

interface InvokeBody {
  statusCode: number;
  type: string;
  value: Record<string, unknown>;
}

async function click(person: Person, verb: string, data: Record<string, unknown> = { changeId: CHANGE }) {
  const res = await w.send(execute(inChannel(), person, cardId, verb, data));
  expect(res.status).toBe(200);
  const body = res.body as InvokeBody;
  expect(body.statusCode).toBe(200);
  expect(body.type).toBe('application/vnd.microsoft.card.adaptive');
  return { card: body.value, text: JSON.stringify(body.value) };
}

const updatesOfCard = () =>
  w.connector.calls.filter((c) => c.operation === 'update' && c.activityId === cardId);

describe('Approve', () => {
  it('reaches onAction with the Teams user and the message, and answers with the refreshed card', async () => {
    handlers.onActionImpl = () => {
      view = sampleCampaign({
        state: {
          kind: 'pending',
          approvals: [
            {
              by: { platform: 'teams', id: PEOPLE.alice.aadObjectId, name: PEOPLE.alice.name },
              at: new Date(),
            },
          ],
          required: 2,
        },
      });
      return Promise.resolve({ type: 'done' });
    };
    const { text } = await click(PEOPLE.alice, 'approve');
    expect(handlers.actions).toHaveLength(1);
    const a = handlers.actions[0];
    expect(a.kind).toBe('approve');
    expect(a.changeId).toBe(CHANGE);
    expect(a.user).toEqual({
      platform: 'teams',
      id: PEOPLE.alice.aadObjectId,
      teamId: TENANT,
      name: PEOPLE.alice.name,
    });
    expect(a.message).toEqual({ platform: 'teams', channel: PATCHING, id: cardId });
    expect(text).toContain('Waiting for approval**: 1 of 2');
    expect(text).toContain(`<at>${PEOPLE.alice.name}</at>`);
    // Everyone sees the new state: the message was updated in place.
    expect(updatesOfCard()).toHaveLength(1);
    expect(JSON.stringify(cardOf(w.connector.message(PATCHING, cardId)!.activity))).toContain('1 of 2');
  });

  it('answers a refusal with a clear message above the card, and leaves the message alone', async () => {
    handlers.onActionImpl = () =>
      Promise.reject(new PolicyDeniedError('You are not an approver for payments in production.'));
    const { card, text } = await click(PEOPLE.mallory, 'approve');
    expect(handlers.actions[0].user.id).toBe(PEOPLE.mallory.aadObjectId);
    const first = (card.body as { type: string; style?: string }[])[0];
    expect(first).toMatchObject({ type: 'Container', style: 'warning' });
    expect(text).toContain('You are not an approver for payments in production.');
    expect(text).toContain('"verb":"approve"');
    expect(updatesOfCard()).toHaveLength(0);
  });

  it('shows a notice result above the card', async () => {
    handlers.onActionImpl = () =>
      Promise.resolve({ type: 'notice', content: notice('warning', 'You cannot approve your own change.') });
    const { text } = await click(PEOPLE.bob, 'approve');
    expect(text).toContain('You cannot approve your own change.');
    expect(updatesOfCard()).toHaveLength(0);
  });
});

describe('identity', () => {
  const impostor: Person = { id: '29:1alice', name: 'Alice Approver' }; // Alice's Bot Framework id, no Entra id

  it('takes a person only by their Entra object id: an invoke without one is refused and reaches no handler', async () => {
    const { text } = await click(impostor, 'approve');
    expect(text).toContain('patchbot cannot tell who you are');
    expect(handlers.actions).toHaveLength(0);
    expect(updatesOfCard()).toHaveLength(0);
  });

  it('refuses a command without an Entra object id, in the thread', async () => {
    const msg = messageTo(
      { ...inChannel(), conversationId: `${PATCHING};messageid=1724159999111` },
      impostor,
      'patch approve 42',
    );
    msg.id = '1724159999111';
    expect((await w.send(msg)).status).toBe(200);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(0);
    expect(JSON.stringify(cardOf(w.connector.replies(PATCHING, '1724159999111')[0].activity))).toContain(
      'patchbot cannot tell who you are',
    );
  });
});

describe('Reject', () => {
  beforeEach(() => {
    handlers.onActionImpl = (i) =>
      Promise.resolve({
        type: 'modal',
        modal: { kind: 'reject', changeId: i.changeId, title: 'libc6 → 2.36-9+deb12u3 (#42)' },
      });
  });

  it('opens a form with a reason, validates it, then reaches onViewSubmission', async () => {
    const form = await click(PEOPLE.alice, 'reject');
    expect(form.text).toContain('"type":"Input.Text","id":"reason"');
    expect(form.text).toContain('"isRequired":true');
    const submit = (form.card.actions as { verb: string; data: Record<string, unknown> }[])[0];
    expect(submit.verb).toBe('reject');

    // Empty reason: the form again, with the problem; no handler.
    const again = await click(PEOPLE.alice, 'reject', { ...submit.data, reason: '   ' });
    expect(again.text).toContain('Say why the change is rejected.');
    expect(handlers.submissions).toHaveLength(0);

    handlers.onSubmissionImpl = () => {
      view = sampleCampaign({
        state: {
          kind: 'rejected',
          by: { platform: 'teams', id: PEOPLE.alice.aadObjectId, name: PEOPLE.alice.name },
          at: new Date(),
          reason: 'breaks the payment API',
        },
        actions: ['details'],
      });
      return Promise.resolve({});
    };
    const done = await click(PEOPLE.alice, 'reject', { ...submit.data, reason: 'breaks the payment API' });
    expect(handlers.submissions).toHaveLength(1);
    expect(handlers.submissions[0]).toMatchObject({
      submission: { kind: 'reject', changeId: CHANGE, reason: 'breaks the payment API' },
      user: { platform: 'teams', id: PEOPLE.alice.aadObjectId },
      message: { platform: 'teams', channel: PATCHING, id: cardId },
    });
    expect(done.text).toContain('Rejected');
    expect(done.text).toContain('breaks the payment API');
    expect(updatesOfCard()).toHaveLength(1);
  });

  it('Cancel shows the campaign card again', async () => {
    await click(PEOPLE.alice, 'reject');
    const back = await click(PEOPLE.alice, 'refresh', { changeId: CHANGE });
    expect(back.text).toContain('"verb":"approve"');
    expect(handlers.submissions).toHaveLength(0);
  });
});

describe('Defer', () => {
  beforeEach(() => {
    handlers.onActionImpl = (i) =>
      Promise.resolve({
        type: 'modal',
        modal: { kind: 'defer', changeId: i.changeId, title: 'libc6 (#42)', maxDate: '2026-03-30' },
      });
  });

  it('offers 1 day, 1 week or a date, and passes the choice on', async () => {
    const form = await click(PEOPLE.alice, 'defer');
    expect(form.text).toContain('"value":"1w"');
    expect(form.text).toContain('"type":"Input.Date","id":"date"');
    expect(form.text).toContain('"max":"2026-03-30"');
    const data = (form.card.actions as { data: Record<string, unknown> }[])[0].data;

    await click(PEOPLE.alice, 'defer', { ...data, defer: '1w', reason: 'waiting for the vendor' });
    expect(handlers.submissions[0].submission).toEqual({
      kind: 'defer',
      changeId: CHANGE,
      defer: { kind: 'days', days: 7 },
      reason: 'waiting for the vendor',
    });

    const late = await click(PEOPLE.alice, 'defer', { ...data, defer: 'date', date: '2026-05-01' });
    expect(late.text).toContain('The policy allows at most 2026-03-30.');
    const past = await click(PEOPLE.alice, 'defer', { ...data, defer: 'date', date: '2026-03-01' });
    expect(past.text).toContain('Pick a date after today (2026-03-02).');
    expect(handlers.submissions).toHaveLength(1);

    await click(PEOPLE.alice, 'defer', { ...data, defer: 'date', date: '2026-03-20' });
    expect(handlers.submissions[1].submission).toEqual({
      kind: 'defer',
      changeId: CHANGE,
      defer: { kind: 'date', date: '2026-03-20' },
    });
  });
});

describe('Accept risk', () => {
  it('asks for a reason and an expiry within the policy limit', async () => {
    handlers.onActionImpl = (i) =>
      Promise.resolve({
        type: 'modal',
        modal: {
          kind: 'accept_risk',
          changeId: i.changeId,
          title: 'libc6 (#42)',
          defaultExpiry: '2026-04-01',
          maxExpiry: '2026-05-31',
        },
      });
    const form = await click(PEOPLE.bob, 'accept_risk');
    expect(form.text).toContain('"type":"Input.Date","id":"expires"');
    expect(form.text).toContain('"value":"2026-04-01"');
    const data = (form.card.actions as { data: Record<string, unknown> }[])[0].data;
    const noReason = await click(PEOPLE.bob, 'accept_risk', { ...data, expires: '2026-04-01' });
    expect(noReason.text).toContain('Say why the risk is acceptable.');
    handlers.onSubmissionImpl = () =>
      Promise.resolve({ notice: notice('success', 'Risk accepted until 2026-04-15.') });
    const ok = await click(PEOPLE.bob, 'accept_risk', {
      ...data,
      reason: 'WAF rule 942100 blocks it',
      expires: '2026-04-15',
    });
    expect(handlers.submissions[0].submission).toEqual({
      kind: 'accept_risk',
      changeId: CHANGE,
      reason: 'WAF rule 942100 blocks it',
      expires: '2026-04-15',
    });
    expect(ok.text).toContain('Risk accepted until 2026-04-15.');
  });
});

describe('Abort (a button that undoes work)', () => {
  it('asks "are you sure?" first, and only the confirmation reaches the handler', async () => {
    view = sampleCampaign({
      state: { kind: 'deploying', ring: 1, rings: 2 },
      actions: ['pause', 'abort', 'details'],
    });
    const confirm = await click(PEOPLE.alice, 'abort');
    expect(confirm.text).toContain('Abort the deployment?');
    expect(handlers.actions).toHaveLength(0);
    const data = (confirm.card.actions as { data: Record<string, unknown> }[])[0].data;
    await click(PEOPLE.alice, 'abort', data);
    expect(handlers.actions.map((a) => a.kind)).toEqual(['abort']);
  });
});

describe('cards that are out of date', () => {
  it('answers a click without a change id, or on a change that is gone, with a notice', async () => {
    const none = await click(PEOPLE.alice, 'approve', {});
    expect(none.text).toContain('it names no change');
    const gone = await click(PEOPLE.alice, 'approve', { changeId: 'ffffffff-0000-4000-8000-000000000000' });
    expect(gone.text).toContain('no change ffffffff');
  });
});

describe('patch commands as messages', () => {
  it('parses "patch status <host>" with an @mention and answers in the thread', async () => {
    const msg = messageTo(
      { ...inChannel(), conversationId: `${PATCHING};messageid=1724159999000` },
      PEOPLE.bob,
      '<at>patchbot</at>&nbsp;patch status web-1',
    );
    msg.id = '1724159999000';
    expect((await w.send(msg)).status).toBe(200);
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(1);
    expect(handlers.commands[0]).toMatchObject({
      command: { kind: 'status', target: { kind: 'name', name: 'web-1' } },
      channel: PATCHING,
      user: { platform: 'teams', id: PEOPLE.bob.aadObjectId, teamId: TENANT },
    });
    const replies = w.connector.replies(PATCHING, '1724159999000');
    expect(replies).toHaveLength(1);
    expect(JSON.stringify(cardOf(replies[0].activity))).toContain('answer to status');
  });

  it('takes "coverage <team>" without the mention in a chat', async () => {
    const msg = messageTo(
      { serviceUrl: w.connector.serviceUrl, conversationId: WEB_CHAT, conversationType: 'groupChat' },
      PEOPLE.alice,
      'patch coverage payments',
    );
    await w.send(msg);
    await w.edge.idle();
    expect(handlers.commands[0].command).toEqual({ kind: 'coverage', team: 'payments' });
    expect(JSON.stringify(cardOf(w.connector.posts(WEB_CHAT).at(-1)!.activity))).toContain(
      'answer to coverage',
    );
  });

  it('answers "patch help" and unknown commands itself with the command list', async () => {
    const before = w.connector.posts(WEB_CHAT).length;
    const where = {
      serviceUrl: w.connector.serviceUrl,
      conversationId: WEB_CHAT,
      conversationType: 'groupChat' as const,
    };
    await w.send(messageTo(where, PEOPLE.alice, '<at>patchbot</at> patch help'));
    await w.send(messageTo(where, PEOPLE.alice, 'patch frobnicate'));
    await w.edge.idle();
    expect(handlers.commands).toHaveLength(0);
    const answers = w.connector
      .posts(WEB_CHAT)
      .slice(before)
      .map((m) => JSON.stringify(cardOf(m.activity)));
    expect(answers).toHaveLength(2);
    expect(answers[0]).toContain('patch status');
    expect(answers[1]).toContain('Unknown subcommand');
  });
});
