/**
 * The real Bolt app over HTTP on loopback, with the fake Slack Web API as the far side: request
 * verification, acks, buttons, dialogs and /patch commands reaching the injected handlers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PatchbotError, PolicyDeniedError } from '../../../src/core/errors.js';
import type {
  ActionInput,
  ActionResult,
  ChatHandlers,
  CommandInput,
  SubmissionInput,
} from '../../../src/bot/handlers.js';
import { createSlackApp, type SlackEdge } from '../../../src/bot/slack/app.js';
import { notice, type StatusView } from '../../../src/bot/views/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import {
  blockActionsBody,
  postToSlackApp,
  signedHeaders,
  slashCommandBody,
  TEST_SIGNING_SECRET,
  viewSubmissionBody,
} from '../../support/slack-signing.js';

const CHANGE = '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21';
const CHANNEL = 'C05PAYMENTS1';
const logger = createLogger({ level: 'silent' });

/** Handlers that record every call; what they do is set per test. */
class RecordingHandlers implements ChatHandlers {
  actions: ActionInput[] = [];
  submissions: SubmissionInput[] = [];
  commands: CommandInput[] = [];
  onActionImpl: (input: ActionInput) => Promise<ActionResult> = () => Promise.resolve({ type: 'done' });
  onSubmissionImpl: (input: SubmissionInput) => Promise<{ notice?: ReturnType<typeof notice> }> = () =>
    Promise.resolve({});
  onCommandImpl: (input: CommandInput) => Promise<void> = () => Promise.resolve();

  get total(): number {
    return this.actions.length + this.submissions.length + this.commands.length;
  }
  onAction(input: ActionInput): Promise<ActionResult> {
    this.actions.push(input);
    return this.onActionImpl(input);
  }
  onViewSubmission(input: SubmissionInput) {
    this.submissions.push(input);
    return this.onSubmissionImpl(input);
  }
  onCommand(input: CommandInput): Promise<void> {
    this.commands.push(input);
    return this.onCommandImpl(input);
  }
}

let fake: FakeSlackWebApi;
let edge: SlackEdge;
let url: string;
const handlers = new RecordingHandlers();

beforeAll(async () => {
  fake = await FakeSlackWebApi.start();
  edge = await createSlackApp({
    token: 'xoxb-test-token',
    signingSecret: TEST_SIGNING_SECRET,
    apiUrl: fake.apiUrl,
    logger,
    handlers,
  });
  const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${port}/slack/events`;
});

afterAll(async () => {
  await edge?.stop();
  await fake?.close();
});

afterEach(() => {
  handlers.actions = [];
  handlers.submissions = [];
  handlers.commands = [];
  handlers.onActionImpl = () => Promise.resolve({ type: 'done' });
  handlers.onSubmissionImpl = () => Promise.resolve({});
  handlers.onCommandImpl = () => Promise.resolve();
});

const click = (actionId: string, userId = 'U03CAROL003', value = CHANGE) =>
  blockActionsBody({
    actionId,
    value,
    userId,
    channelId: CHANNEL,
    messageTs: '1724150000.000100',
    responseUrl: fake.responseUrl(),
  });

const post = (body: string, headers = signedHeaders(TEST_SIGNING_SECRET, body)) =>
  postToSlackApp(url, body, headers);

/** Waits until the app has finished the work that follows an ack. */
const settle = (predicate: () => boolean) => fake.waitFor(() => predicate() || undefined);

describe('request verification', () => {
  it('accepts a signed request and hands the click to the handler', async () => {
    const res = await post(click('patch_approve'));
    expect(res.status).toBe(200);
    await settle(() => handlers.actions.length === 1);
    const a = handlers.actions[0];
    expect(a.kind).toBe('approve');
    expect(a.changeId).toBe(CHANGE);
    expect(a.user).toMatchObject({ platform: 'slack', id: 'U03CAROL003', teamId: 'T0FAKE0001' });
    expect(a.message).toEqual({ platform: 'slack', channel: CHANNEL, id: '1724150000.000100' });
  });

  const now = () => Math.floor(Date.now() / 1000);
  const cases: {
    name: string;
    headers: (body: string) => Record<string, string>;
    body?: (b: string) => string;
  }[] = [
    { name: 'wrong secret', headers: (b) => signedHeaders('not-the-signing-secret-at-all', b) },
    {
      name: 'tampered body',
      headers: (b) => signedHeaders(TEST_SIGNING_SECRET, b),
      body: (b) => b.replace('U03CAROL003', 'U09MALLORY9'),
    },
    {
      name: 'stale timestamp (6 min old)',
      headers: (b) => signedHeaders(TEST_SIGNING_SECRET, b, now() - 360),
    },
    {
      name: 'future timestamp (6 min ahead)',
      headers: (b) => signedHeaders(TEST_SIGNING_SECRET, b, now() + 360),
    },
    {
      name: 'future timestamp (1 day ahead)',
      headers: (b) => signedHeaders(TEST_SIGNING_SECRET, b, now() + 86_400),
    },
    {
      name: 'missing signature header',
      headers: (b) => {
        const { ['x-slack-signature']: _sig, ...rest } = signedHeaders(TEST_SIGNING_SECRET, b);
        return rest;
      },
    },
    {
      name: 'missing timestamp header',
      headers: (b) => {
        const { ['x-slack-request-timestamp']: _ts, ...rest } = signedHeaders(TEST_SIGNING_SECRET, b);
        return rest;
      },
    },
    {
      name: 'non-numeric timestamp',
      headers: (b) => ({
        ...signedHeaders(TEST_SIGNING_SECRET, b),
        'x-slack-request-timestamp': 'yesterday',
      }),
    },
  ];

  for (const c of cases) {
    it(`refuses a request with ${c.name} (401) before any handler runs`, async () => {
      const body = click('patch_approve');
      const sent = c.body ? c.body(body) : body;
      const callsBefore = fake.calls.length;
      const responsesBefore = fake.responses.length;
      const res = await post(sent, c.headers(body));
      expect(res.status).toBe(401);
      // A valid request sent right after is processed: so anything the refused one would have caused is done too.
      await post(click('patch_details'));
      await settle(() => handlers.actions.length === 1);
      expect(handlers.actions.map((a) => a.kind)).toEqual(['details']);
      expect(fake.calls.length).toBe(callsBefore);
      expect(fake.responses.length).toBe(responsesBefore);
      expect(handlers.total).toBe(1);
    });
  }

  it('accepts a timestamp within the allowed skew in either direction', async () => {
    for (const offset of [-240, 240]) {
      const body = click('patch_details');
      const res = await post(
        body,
        signedHeaders(TEST_SIGNING_SECRET, body, Math.floor(Date.now() / 1000) + offset),
      );
      expect(res.status).toBe(200);
    }
    await settle(() => handlers.actions.length === 2);
  });
});

describe('transport', () => {
  const json = (obj: object) => JSON.stringify(obj);
  const jsonHeaders = (body: string) => ({
    ...signedHeaders(TEST_SIGNING_SECRET, body),
    'content-type': 'application/json',
  });

  it('answers the Events API URL verification challenge', async () => {
    const body = json({
      token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl',
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
      type: 'url_verification',
    });
    const res = await post(body, jsonHeaders(body));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P',
    });
  });

  it('acknowledges an event callback', async () => {
    const body = json({
      token: 'x',
      team_id: 'T0FAKE0001',
      api_app_id: 'A0PATCHBOT1',
      event: { type: 'tokens_revoked', tokens: { bot: ['U0BOT00001'] }, event_ts: '1724150000.000200' },
      type: 'event_callback',
      event_id: 'Ev0000000001',
      event_time: 1724150000,
    });
    const res = await post(body, jsonHeaders(body));
    expect(res.status).toBe(200);
    expect(handlers.total).toBe(0);
  });

  it('shares its request listener with other routes', async () => {
    edge.route?.('GET', '/healthz', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
    );
    const base = url.replace('/slack/events', '');
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok');
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    expect((await fetch(url)).status).toBe(405);
  });

  it('refuses a body over the size limit', async () => {
    const body = `payload=${'x'.repeat(1024 * 1024 + 10)}`;
    const res = await post(body).catch(() => ({ status: 413 }));
    expect(res.status).toBe(413);
    expect(handlers.total).toBe(0);
  });
});

describe('buttons', () => {
  it('acks before the handler finishes its work', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finished = false;
    handlers.onActionImpl = async () => {
      await gate;
      finished = true;
      return { type: 'done' };
    };
    const res = await post(click('patch_approve'));
    // The answer came back while the handler is still waiting on the gate.
    expect(res.status).toBe(200);
    expect(finished).toBe(false);
    await settle(() => handlers.actions.length === 1);
    expect(finished).toBe(false);
    release();
    await settle(() => finished);
  });

  it('answers a click on a button it does not know at once (200), without waiting for a listener', async () => {
    // (without a listener's ack, the unhandled-request timer would answer 404 after 3 s)
    const res = await post(click('someone_elses_button'));
    expect(res.status).toBe(200);
    expect(handlers.total).toBe(0);
  });

  it.each([
    ['patch_approve', 'approve'],
    ['patch_reject', 'reject'],
    ['patch_defer', 'defer'],
    ['patch_accept_risk', 'accept_risk'],
    ['patch_details', 'details'],
  ])('%s reaches the handler as %s', async (actionId, kind) => {
    await post(click(actionId));
    await settle(() => handlers.actions.length === 1);
    expect(handlers.actions[0].kind).toBe(kind);
  });

  it('shows a refusal from the handler to the clicking person only (response_url, ephemeral)', async () => {
    handlers.onActionImpl = () =>
      Promise.reject(new PolicyDeniedError('You are not an approver for team payments in production'));
    const before = fake.responses.length;
    await post(click('patch_approve', 'U09OUTSIDER'));
    const r = await fake.waitFor(() => fake.responses[before]);
    expect(r.body.response_type).toBe('ephemeral');
    expect(r.body.replace_original).toBe(false);
    expect(r.body.text).toBe('You are not an approver for team payments in production');
  });

  it('hides the details of an unexpected failure', async () => {
    handlers.onActionImpl = () => Promise.reject(new Error('connection to 10.0.0.5:5432 refused'));
    const before = fake.responses.length;
    await post(click('patch_approve'));
    const r = await fake.waitFor(() => fake.responses[before]);
    expect(String(r.body.text)).not.toContain('10.0.0.5');
  });

  it('ignores a button whose value is not a change id', async () => {
    const res = await post(click('patch_approve', 'U03CAROL003', 'x; DROP TABLE change_requests'));
    expect(res.status).toBe(200);
    await post(click('patch_details'));
    await settle(() => handlers.actions.length === 1);
    expect(handlers.actions[0].kind).toBe('details');
  });
});

describe('dialogs', () => {
  const openFor = async (kind: 'reject' | 'defer' | 'accept_risk', actionId: string) => {
    handlers.onActionImpl = () =>
      Promise.resolve({
        type: 'modal',
        modal:
          kind === 'accept_risk'
            ? {
                kind,
                changeId: CHANGE,
                title: 'openssl 3.0.15',
                defaultExpiry: '2099-01-15',
                maxExpiry: '2099-02-01',
              }
            : { kind, changeId: CHANGE, title: 'openssl 3.0.15' },
      });
    const before = fake.views.length;
    await post(click(actionId));
    return (await fake.waitFor(() => fake.views[before])).view;
  };

  const submit = (
    view: Record<string, unknown>,
    values: Record<string, Record<string, Record<string, unknown>>>,
  ) => {
    const body = viewSubmissionBody({
      userId: 'U03CAROL003',
      callbackId: String(view.callback_id),
      privateMetadata: String(view.private_metadata),
      values,
    });
    return post(body);
  };

  it('reject: opens the modal, requires a reason, passes it on', async () => {
    const view = await openFor('reject', 'patch_reject');
    expect(view.callback_id).toBe('patch_reject_modal');

    const empty = await submit(view, { reason: { value: { type: 'plain_text_input', value: '   ' } } });
    expect(JSON.parse(empty.body)).toMatchObject({
      response_action: 'errors',
      errors: { reason: expect.any(String) as string },
    });
    expect(handlers.submissions).toHaveLength(0);

    const ok = await submit(view, {
      reason: { value: { type: 'plain_text_input', value: 'Breaks TLS to the bank API' } },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('');
    await settle(() => handlers.submissions.length === 1);
    const s = handlers.submissions[0];
    expect(s.submission).toEqual({ kind: 'reject', changeId: CHANGE, reason: 'Breaks TLS to the bank API' });
    expect(s.message).toEqual({ platform: 'slack', channel: CHANNEL, id: '1724150000.000100' });
    expect(s.user.id).toBe('U03CAROL003');
  });

  it('accept risk: refuses an expiry past the policy limit, passes reason and expiry', async () => {
    const view = await openFor('accept_risk', 'patch_accept_risk');
    const tooLate = await submit(view, {
      reason: { value: { type: 'plain_text_input', value: 'Not reachable from outside' } },
      expires: { value: { type: 'datepicker', selected_date: '2099-03-01' } },
    });
    expect(JSON.parse(tooLate.body)).toMatchObject({
      response_action: 'errors',
      errors: { expires: expect.stringContaining('2099-02-01') as string },
    });
    expect(handlers.submissions).toHaveLength(0);

    handlers.onSubmissionImpl = () =>
      Promise.resolve({ notice: notice('success', 'Risk accepted until 2099-01-20') });
    const ok = await submit(view, {
      reason: { value: { type: 'plain_text_input', value: 'Not reachable from outside' } },
      expires: { value: { type: 'datepicker', selected_date: '2099-01-20' } },
    });
    expect(ok.status).toBe(200);
    await settle(() => handlers.submissions.length === 1);
    expect(handlers.submissions[0].submission).toEqual({
      kind: 'accept_risk',
      changeId: CHANGE,
      reason: 'Not reachable from outside',
      expires: '2099-01-20',
    });
    // The notice reaches the person as an ephemeral message in the campaign's channel.
    const eph = await fake.waitFor(() =>
      fake.ephemerals.find((e) => e.text === 'Risk accepted until 2099-01-20'),
    );
    expect(eph).toMatchObject({ channel: CHANNEL, user: 'U03CAROL003' });
  });

  it('defer: 1 week or a date', async () => {
    const view = await openFor('defer', 'patch_defer');
    await submit(view, { defer: { value: { type: 'radio_buttons', selected_option: { value: '1w' } } } });
    await settle(() => handlers.submissions.length === 1);
    expect(handlers.submissions[0].submission).toEqual({
      kind: 'defer',
      changeId: CHANGE,
      defer: { kind: 'days', days: 7 },
    });

    const noDate = await submit(view, {
      defer: { value: { type: 'radio_buttons', selected_option: { value: 'date' } } },
    });
    expect(JSON.parse(noDate.body)).toMatchObject({
      response_action: 'errors',
      errors: { date: expect.any(String) as string },
    });
    await submit(view, {
      defer: { value: { type: 'radio_buttons', selected_option: { value: 'date' } } },
      date: { value: { type: 'datepicker', selected_date: '2099-06-30' } },
    });
    await settle(() => handlers.submissions.length === 2);
    expect(handlers.submissions[1].submission).toEqual({
      kind: 'defer',
      changeId: CHANGE,
      defer: { kind: 'date', date: '2099-06-30' },
    });
  });
});

describe('/patch', () => {
  const command = (text: string) =>
    slashCommandBody({ text, userId: 'U03CAROL003', channelId: CHANNEL, responseUrl: fake.responseUrl() });

  it('answers an unknown subcommand with the help text, in the ack', async () => {
    const res = await post(command('frobnicate now'));
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as { text: string; response_type: string; blocks: unknown[] };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('frobnicate');
    expect(body.text).toContain('/patch status');
    expect(handlers.commands).toHaveLength(0);
  });

  it('answers help in the ack', async () => {
    const res = await post(command('help'));
    expect((JSON.parse(res.body) as { text: string }).text).toContain('/patch approve <change>');
    expect(handlers.commands).toHaveLength(0);
  });

  it('acks `status` at once and answers through response_url', async () => {
    const view: StatusView = {
      type: 'status',
      asOf: new Date('2025-08-20T10:00:00Z'),
      scope: {
        kind: 'fleet',
        hosts: 42,
        openByBand: { critical: 3, high: 7, medium: 12, low: 4, none: 0 },
        kevOverdue: 1,
        slaBreachesThisWeek: 2,
        hostsNeedingReboot: 5,
        pendingApprovals: 4,
        deployments: [],
      },
    };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    handlers.onCommandImpl = async (input) => {
      await gate;
      await input.respond(view);
    };
    const before = fake.responses.length;
    const res = await post(command('status'));
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { text: string }).text).toMatch(/^Working on/);
    expect(handlers.commands[0].command).toEqual({ kind: 'status' });
    expect(handlers.commands[0].channel).toBe(CHANNEL);
    release();
    const r = await fake.waitFor(() => fake.responses[before]);
    expect(String(r.body.text)).toContain('1 KEV overdue');
    expect(r.body.response_type).toBe('ephemeral');
  });

  it('passes approve/reject with their change and reason', async () => {
    await post(command('approve #42'));
    await post(command('reject 42 breaks the   bank API'));
    await settle(() => handlers.commands.length === 2);
    expect(handlers.commands.map((c) => c.command)).toEqual([
      { kind: 'approve', change: { number: 42 } },
      { kind: 'reject', change: { number: 42 }, reason: 'breaks the   bank API' },
    ]);
  });
});

describe('start-up', () => {
  it('fails with a clear error for a token Slack rejects, without an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const err = await createSlackApp({
        token: 'xoxb-revoked-token',
        signingSecret: TEST_SIGNING_SECRET,
        apiUrl: fake.apiUrl,
        logger,
        handlers,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PatchbotError);
      expect((err as PatchbotError).code).toBe('CONFIG_INVALID');
      expect((err as PatchbotError).userMessage).toMatch(
        /^SLACK_BOT_TOKEN was rejected by Slack: invalid_auth/,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it.each([
    [undefined, /SLACK_SIGNING_SECRET is missing/],
    ['', /SLACK_SIGNING_SECRET is missing/],
    ['abc', /SLACK_SIGNING_SECRET is too short \(3 characters\)/],
  ])('refuses signing secret %j', async (secret, message) => {
    const err = await createSlackApp({
      token: 'xoxb-test-token',
      signingSecret: secret,
      apiUrl: fake.apiUrl,
      logger,
      handlers,
    }).catch((e: unknown) => e);
    expect((err as PatchbotError).code).toBe('CONFIG_INVALID');
    expect((err as PatchbotError).userMessage).toMatch(message);
  });

  it('says so when the Web API cannot be reached', async () => {
    const gone = await FakeSlackWebApi.start();
    const apiUrl = gone.apiUrl;
    await gone.close();
    const err = await createSlackApp({
      token: 'xoxb-test-token',
      signingSecret: TEST_SIGNING_SECRET,
      apiUrl,
      logger,
      handlers,
    }).catch((e: unknown) => e);
    expect((err as PatchbotError).code).toBe('TRANSIENT');
    expect((err as PatchbotError).userMessage).toContain('could not reach the Slack Web API');
  });
});
