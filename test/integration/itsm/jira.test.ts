/**
 * Jira Service Management issues end to end against the stand-in REST v3 server: an approved
 * change gets an issue (remote link to the chat thread) moved through the workflow by transition
 * names to Completed, with comments in ADF for each ring; a failed deployment opens an incident
 * issue linked to it and ends Failed; redelivery creates nothing twice; 429 is TRANSIENT with the
 * Retry-After; Jira's error bodies are named in permanent errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PatchbotError } from '../../../src/core/errors.js';
import type { EventSink, PatchbotEvent } from '../../../src/core/events/event.js';
import { buildItsmSinks } from '../../../src/integrations/itsm/index.js';
import { FakeJira } from '../../fakes/jira.js';
import { createWorld, itsmPolicy, signal, type World } from './support.js';

const ENV = { JIRA_EMAIL: 'patchbot@example.com', JIRA_API_TOKEN: 'ATATT3xFfGF0-test-token' };

let w: World;
let jira: FakeJira;
let sink: EventSink;

const jiraPolicy = (url: string, extra: Record<string, unknown> = {}) =>
  itsmPolicy({
    itsm: {
      jira: {
        baseUrl: url,
        allowHttpLoopback: true,
        project: 'OPS',
        issueType: 'Change',
        transitions: {
          scheduled: 'Scheduled',
          implement: 'Implementing',
          review: 'Review',
          completed: 'Completed',
        },
        ...extra,
      },
    },
  });

beforeAll(async () => {
  jira = new FakeJira({
    email: ENV.JIRA_EMAIL,
    apiToken: ENV.JIRA_API_TOKEN,
    projects: { OPS: { issueTypes: ['Change', 'Incident'] } },
  });
  await jira.start();
  const policy = jiraPolicy(jira.url);
  w = await createWorld('itsm_jira', policy);
  const sinks = buildItsmSinks(policy, ENV, w.deps());
  expect(sinks.map((s) => s.name)).toEqual(['jira']);
  sink = sinks[0];
}, 120_000);

afterAll(async () => {
  await w?.close();
  await jira?.stop();
});

async function deliver(...events: PatchbotEvent[]): Promise<void> {
  for (const e of events) if (sink.accepts(e)) await sink.deliver(e, signal());
}

describe('Jira Service Management issue', () => {
  it('follows an approved change from request to Completed, with comments for each ring', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c), w.event('change.approved', c));
    const link = await w.repos.itsmLinks.find(c.id, 'jira');
    expect(link?.number).toMatch(/^OPS-\d+$/);
    expect(link?.url).toBe(`${jira.url}/browse/${link?.number}`);
    const issue = jira.issue(link?.number ?? '');
    expect(issue?.fields.issuetype).toBe('Change');
    expect(issue?.fields.labels).toEqual(['patchbot', `patchbot-change-${c.id}`]);
    expect(issue?.fields.summary).toContain(`patchbot #${c.number}: openssl`);
    expect(JSON.stringify(issue?.fields.description)).toContain('Backout plan');
    expect(issue?.remoteLinks).toEqual([
      {
        url: 'https://fake.slack.test/archives/C0PAYMENTS/p1765000000000100',
        title: `patchbot #${c.number} chat thread`,
      },
    ]);
    expect(issue?.status).toBe('Open');

    const d = await w.deploy(c.id);
    await deliver(w.event('deployment.planned', c, d.id));
    expect(issue?.status).toBe('Scheduled');
    await deliver(w.event('deployment.started', c, d.id));
    expect(issue?.status).toBe('Implementing');
    await w.finish(d.id, 'succeeded');
    await deliver(
      w.event('deployment.ring_completed', c, d.id, { ring: 'canary' }),
      w.event('deployment.ring_completed', c, d.id, { ring: 'broad' }),
      w.event('deployment.completed', c, d.id),
    );
    expect(issue?.status).toBe('Completed');
    const comments = issue?.comments.map((x) => x.text) ?? [];
    expect(comments).toEqual(
      expect.arrayContaining([
        expect.stringContaining('Ring canary passed: 1 succeeded'),
        expect.stringContaining('Ring broad passed: 2 succeeded'),
        expect.stringContaining('completed: 3 succeeded'),
      ]),
    );
    // transitions were looked up by name before being applied
    const lookups = jira.calls.filter((x) => x.method === 'GET' && x.path.endsWith('/transitions'));
    expect(lookups.length).toBeGreaterThanOrEqual(4);
  });

  it('a failed deployment opens a linked incident issue and the change ends Failed', async () => {
    const c = await w.change();
    await deliver(w.event('change.requested', c));
    const d = await w.deploy(c.id);
    await deliver(w.event('deployment.planned', c, d.id), w.event('deployment.started', c, d.id));
    await w.finish(d.id, { failed: 'db-1' });
    const halted = w.event('deployment.halted', c, d.id, { reason: 'ring broad over its failure budget' });
    await deliver(
      w.event('host.failed', c, d.id, { host: 'db-1', ring: 'broad', error: 'E: dpkg was interrupted' }),
      halted,
    );
    const link = await w.repos.itsmLinks.find(c.id, 'jira');
    const incident = await w.repos.itsmLinks.find(c.id, 'jira', 'incident', d.id);
    expect(incident).toBeDefined();
    const inc = jira.issue(incident?.number ?? '');
    expect(inc?.fields.issuetype).toBe('Incident');
    expect(JSON.stringify(inc?.fields.description)).toContain('db-1: E: dpkg was interrupted');
    expect(jira.links).toContainEqual({ type: 'Relates', inward: incident?.number, outward: link?.number });
    await sink.deliver(halted, signal());
    expect(jira.issues.filter((i) => i.fields.labels.includes(`patchbot-deployment-${d.id}`))).toHaveLength(
      1,
    );

    await deliver(w.event('deployment.rolled_back', c, d.id));
    const issue = jira.issue(link?.number ?? '');
    expect(issue?.status).toBe('Failed');
    expect(issue?.comments.at(-1)?.text).toContain(`Incidents: ${incident?.number}`);
  });

  it('redelivery creates no second issue; a lost link row is found again by label', async () => {
    const c = await w.change();
    const e = w.event('change.requested', c);
    await sink.deliver(e, signal());
    await sink.deliver(e, signal());
    await w.db.prisma.itsmLink.deleteMany({ where: { changeRequestId: c.id } });
    await w.db.prisma.itsmDelivery.deleteMany({ where: { eventId: e.id } });
    await sink.deliver(e, signal());
    expect(jira.issues.filter((i) => i.fields.labels.includes(`patchbot-change-${c.id}`))).toHaveLength(1);
  });

  it('429 is TRANSIENT with retryAfterMs; a 400 names Jira’s field errors and is permanent', async () => {
    const c = await w.change();
    const e = w.event('change.requested', c);
    jira.fail(429, { retryAfter: '12' });
    const limited = await sink.deliver(e, signal()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((limited as PatchbotError).code).toBe('TRANSIENT');
    expect((limited as PatchbotError).details.retryAfterMs).toBe(12_000);
    expect((limited as PatchbotError).userMessage).toContain('Rate limit exceeded.');
    jira.fail(503, { match: (x) => x.method === 'POST' });
    const down = await sink.deliver(e, signal()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((down as PatchbotError).code).toBe('TRANSIENT');
    await sink.deliver(e, signal());
    expect(await w.repos.itsmLinks.find(c.id, 'jira')).toBeDefined();

    const [badType] = buildItsmSinks(jiraPolicy(jira.url, { issueType: 'Chnage' }), ENV, w.deps());
    const c2 = await w.change();
    const refused = await badType?.deliver(w.event('change.requested', c2), signal()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(PatchbotError);
    expect((refused as PatchbotError).code).toBe('VALIDATION');
    expect((refused as PatchbotError).userMessage).toContain('issuetype: Specify a valid issue type');
  });

  it('a transition name the workflow does not have is a permanent error naming the ones there are', async () => {
    const [odd] = buildItsmSinks(
      jiraPolicy(jira.url, { transitions: { implement: 'Deploying' } }),
      ENV,
      w.deps(),
    );
    const c = await w.change();
    await odd?.deliver(w.event('change.requested', c), signal());
    const d = await w.deploy(c.id);
    const err = await odd?.deliver(w.event('deployment.started', c, d.id), signal()).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((err as PatchbotError).code).toBe('VALIDATION');
    expect((err as PatchbotError).userMessage).toContain('no transition "Deploying"');
    expect((err as PatchbotError).userMessage).toContain('Start implementation');
  });
});
