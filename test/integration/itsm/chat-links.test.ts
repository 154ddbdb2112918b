/**
 * Links both ways, through the real Slack Web API client against the stand-in Slack: the change's
 * campaign message shows its ServiceNow record as a link (and, with the CAB gate, that it waits
 * for the CAB), the thread says "Waiting for CAB approval in ServiceNow CHG…", and the record's
 * description links back to the message's permalink (chat.getPermalink).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackWebClient, SlackPoster } from '../../../src/bot/slack/index.js';
import type { EventSink } from '../../../src/core/events/event.js';
import {
  buildCabGate,
  buildItsmSinks,
  chatThreadLinks,
  type CabGate,
} from '../../../src/integrations/itsm/index.js';
import { createApprovals, type Approvals } from '../../../src/usecases/approvals/index.js';
import { createDeploymentPort } from '../../../src/usecases/deployments/chat.js';
import { FakeServiceNow } from '../../fakes/servicenow.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { createWorld, itsmPolicy, logger, signal, type World } from './support.js';

const ENV = { SERVICENOW_USERNAME: 'patchbot.integration', SERVICENOW_PASSWORD: 'pw-links' };
const CHANNEL = 'C0PAYMENTS';
const APPROVER = 'U0OPS00001';

let w: World;
let sn: FakeServiceNow;
let slack: FakeSlackWebApi;
let sink: EventSink;
let gate: CabGate;
let approvals: Approvals;

beforeAll(async () => {
  sn = new FakeServiceNow({ basic: { user: ENV.SERVICENOW_USERNAME, password: ENV.SERVICENOW_PASSWORD } });
  await sn.start();
  slack = await FakeSlackWebApi.start({ channels: { [CHANNEL]: { name: 'payments-patching' } } });
  const policy = itsmPolicy({
    teams: [{ name: 'payments', approvers: { production: { slackUsers: [APPROVER] } } }],
    approval: { itsm: 'required' },
    itsm: { servicenow: { instanceUrl: sn.url, allowHttpLoopback: true, approvalPoll: { initial: '1s' } } },
  });
  w = await createWorld('itsm_links', policy);
  const client = await createSlackWebClient({ token: 'xoxb-test-token', apiUrl: slack.apiUrl });
  const poster = new SlackPoster({ client, logger, intervalMs: 0 });
  const port = { current: undefined as ReturnType<typeof createDeploymentPort> | undefined };
  approvals = createApprovals({
    repos: w.repos,
    policy,
    now: () => new Date(),
    logger,
    platforms: () => [poster],
    deployments: () => port.current,
  });
  const deps = w.deps({
    threadUrl: chatThreadLinks({ changes: w.repos.changes, slackPermalink: (ref) => poster.permalink(ref) }),
    refresh: (id) => approvals.messenger.refresh(id),
  });
  [sink] = buildItsmSinks(policy, ENV, deps) as [EventSink];
  gate = buildCabGate(policy, ENV, deps, {
    release: (id, r) => approvals.cabApproved(id, r),
    rejected: (id, r) => approvals.cabRejected(id, r),
  }) as CabGate;
  port.current = createDeploymentPort({ ...w.harness.deps, gate });
}, 120_000);

afterAll(async () => {
  await w?.close();
  await sn?.stop();
  await slack?.close();
});

describe('links between the chat message and the ITSM record', () => {
  it('the message shows the record and the CAB wait; the record links back to the thread', async () => {
    const c = await w.change({ status: 'pending' });
    // the campaign message, posted as notify posts it
    const client = await createSlackWebClient({ token: 'xoxb-test-token', apiUrl: slack.apiUrl });
    const poster = new SlackPoster({ client, logger, intervalMs: 0 });
    const ref = await poster.post({ channel: CHANNEL }, await approvals.campaignView(c.id, new Date()));
    await w.repos.changes.recordMessage(c.id, ref);

    await sink.deliver(w.event('change.requested', c), signal());
    const link = await w.repos.itsmLinks.find(c.id, 'servicenow');
    const number = link?.number ?? '';
    // record → chat: the permalink chat.getPermalink gave
    const permalink = `https://fake.slack.test/archives/${CHANNEL}/p${ref.id.replace('.', '')}`;
    expect(sn.byNumber(number)?.fields.description).toContain(`Chat thread: ${permalink}`);

    // chat → record: the message links the record (edited in place when the record was created)
    const message = () => JSON.stringify(slack.messages.find((m) => m.ts === ref.id)?.blocks ?? []);
    expect(message()).toContain(`<${link?.url}|ServiceNow ${number}>`);

    // the approval in chat completes the change; its hand-over is held by the CAB
    const decided = await approvals.decide({
      changeRef: c.id,
      kind: 'approve',
      actor: { id: APPROVER, surface: 'slack', platform: 'slack' },
    });
    expect(decided.outcome).toBe('recorded');
    await sink.deliver(w.event('change.approved', c, undefined, { actor: APPROVER }), signal());
    expect(sn.byNumber(number)?.fields.state).toBe('-4');
    const thread = slack.messages.filter((m) => m.threadTs === ref.id).map((m) => m.text ?? '');
    expect(thread.some((t) => t.includes(`Waiting for CAB approval in ServiceNow ${number}`))).toBe(true);
    expect(await w.db.prisma.deployment.count({ where: { changeRequestId: c.id } })).toBe(0);
    await approvals.messenger.refresh(c.id);
    expect(message()).toContain('waiting for CAB approval');

    // the CAB approves: the thread hears it and the deployment is scheduled
    sn.setApproval(number, 'approved');
    const until = Date.now() + 20_000;
    while ((await w.db.prisma.deployment.count({ where: { changeRequestId: c.id } })) === 0) {
      if (Date.now() > until) throw new Error('not deployed after the CAB approval');
      await gate.poll(signal());
      await new Promise((r) => setTimeout(r, 100));
    }
    const after = slack.messages.filter((m) => m.threadTs === ref.id).map((m) => m.text ?? '');
    expect(after.some((t) => t.includes(`The CAB approved ${number} in ServiceNow. Deployment #`))).toBe(
      true,
    );
    expect(message()).toContain('CAB approved');
  });
});
