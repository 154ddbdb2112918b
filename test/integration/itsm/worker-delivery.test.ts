/**
 * ITSM records through real processes: a `patchbot worker` with itsm.servicenow and itsm.jira
 * enabled (credentials in its environment) delivers the events the decision ledger writes when a
 * change is requested and approved with `patchbot changes request|approve --as`, and the
 * ServiceNow and Jira stand-ins on loopback receive one change_request and one issue for the
 * change, linked in ItsmLink. A second approval and a redelivery of the same events create no
 * second record. A change the instance refuses (403) is dead-lettered at once and listed by
 * `patchbot webhooks failed --sink servicenow`; `webhooks retry` delivers it once the instance
 * takes it. A worker whose ServiceNow credential is not set refuses to start, naming the variable.
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals } from '../../../src/usecases/approvals/index.js';
import { FakeJira } from '../../fakes/jira.js';
import { FakeServiceNow, type SnCall } from '../../fakes/servicenow.js';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';
import { REDIS_URL, waitFor } from '../deployments/support.js';
import { applyPolicy, CHANNELS, OLD_GLIBC, saveInventory, syncFeeds, TRACKER } from '../notify/seed.js';

const ALICE = 'U0ALICE0001';
const BOB = 'U0BOBBY0002';
const DEV = 'U0DEVELOP01';
const SN = { SERVICENOW_USERNAME: 'patchbot.integration', SERVICENOW_PASSWORD: `sn-${randomUUID()}` };
const JIRA = { JIRA_EMAIL: 'patchbot@example.com', JIRA_API_TOKEN: `ATATT3x-${randomUUID()}` };

let pg: TempPostgres;
let db: Database;
let dir: TempDir;
let sn: FakeServiceNow;
let jira: FakeJira;
let env: NodeJS.ProcessEnv;
const procs: Proc[] = [];
/** Change numbers and ids: A goes through, B is refused by the ServiceNow instance. */
const changes: { id: string; number: number }[] = [];

const cli = (...args: string[]) => runCli(args, env, dir.dir);

function policyInput(): PolicyInput {
  return {
    teams: [
      {
        name: 'payments',
        slack: { channels: [CHANNELS.payments] },
        approvers: { production: { slackUsers: [ALICE, BOB] } },
      },
    ],
    hosts: [
      { name: 'pay-1', address: '10.0.0.11', team: 'payments', criticality: 1 },
      { name: 'pay-2', address: '10.0.0.12', team: 'payments' },
    ],
    approval: { rules: [{ name: 'production-two', match: { environments: ['production'] }, quorum: 2 }] },
    roles: { requester: { slackUsers: [DEV] }, approver: { slackUsers: [ALICE, BOB] } },
    // nothing reaches outside: no feed source, no inventory run during the test
    feeds: {
      sources: Object.fromEntries(
        ['debian-tracker', 'osv-debian', 'kev', 'epss'].map((n) => [n, { enabled: false }]),
      ),
    },
    inventory: { collectInterval: '30d' },
    itsm: {
      servicenow: { instanceUrl: sn.url, allowHttpLoopback: true, timeout: '5s' },
      jira: { baseUrl: jira.url, allowHttpLoopback: true, project: 'OPS', timeout: '5s' },
    },
  };
}

function startWorker(workerEnv: NodeJS.ProcessEnv = env): Proc {
  const proc = spawnPatchbot(['worker'], workerEnv, dir.dir);
  procs.push(proc);
  return proc;
}

const deliveries = (sink: string, changeId: string) =>
  db.prisma.outbox.findMany({
    where: { kind: `sink:${sink}`, payload: { path: ['changeId'], equals: changeId } },
    orderBy: { id: 'asc' },
  });

const links = (changeId: string) =>
  db.prisma.itsmLink.findMany({ where: { changeRequestId: changeId }, orderBy: { system: 'asc' } });

const snChanges = (number: number) =>
  sn.table('change_request').filter((r) => r.fields.correlation_display === `patchbot #${number}`);
const jiraIssues = (number: number) =>
  jira.issues.filter((i) => i.fields.summary.startsWith(`patchbot #${number}:`));
const creates = (changeId: string) =>
  sn.calls.filter(
    (c) =>
      c.method === 'POST' &&
      c.path === '/api/now/table/change_request' &&
      (c.body as { correlation_id?: string }).correlation_id === `patchbot:change:${changeId}`,
  );

/** Every delivery of the change's events to the sink is done (delivered, none pending). */
async function allDelivered(sink: string, changeId: string, count: number): Promise<boolean> {
  const rows = await deliveries(sink, changeId);
  return rows.length === count && rows.every((r) => r.deliveredAt !== null);
}

beforeAll(async () => {
  pg = await createTempPostgres('itsm_worker');
  dir = await createTempDir('patchbot-itsm-worker');
  sn = new FakeServiceNow({ basic: { user: SN.SERVICENOW_USERNAME, password: SN.SERVICENOW_PASSWORD } });
  await sn.start();
  jira = new FakeJira({
    email: JIRA.JIRA_EMAIL,
    apiToken: JIRA.JIRA_API_TOKEN,
    projects: { OPS: { issueTypes: ['Change', 'Incident'] } },
  });
  await jira.start();
  const input = policyInput();
  const policyPath = path.join(dir.dir, 'patchbot.yaml');
  await writeFile(policyPath, stringify(input));
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: pg.url,
    REDIS_URL,
    PATCHBOT_CONFIG: policyPath,
    PATCHBOT_QUEUE_PREFIX: `pbitsm-${randomUUID().slice(0, 8)}`,
    LOG_LEVEL: 'info',
    ...SN,
    ...JIRA,
  };
  const migrated = await cli('db', 'migrate');
  expect(migrated.code, migrated.stderr).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  const repos = createRepositories(db);
  const policy = Policy.parse(input);
  await applyPolicy(repos, policy);
  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await saveInventory(repos, 'pay-2', OLD_GLIBC);
  await syncFeeds(repos, policy, [TRACKER]);
  // two open changes, as the campaigns create them
  const approvals = createApprovals({
    repos,
    policy,
    now: () => new Date(),
    logger: createLogger({ level: 'silent' }),
    platforms: () => [],
  });
  const findings = await db.prisma.finding.findMany({ where: { sourcePackage: 'glibc' } });
  expect(findings.length).toBeGreaterThan(0);
  for (const v of ['+i1', '+i2']) {
    const { changeId } = await approvals.campaigns.upsertCampaign(
      {
        team: 'payments',
        ecosystem: findings[0]?.ecosystem ?? 'Debian:12',
        packageName: 'glibc',
        sourcePackage: 'glibc',
        fixedVersion: `2.36-9+deb12u3${v}`,
        findingIds: findings.map((f) => f.id),
        riskScore: 70,
        severity: 'high',
        kev: false,
      },
      new Date(),
    );
    const c = await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } });
    changes.push({ id: c.id, number: c.number });
  }
}, 180_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  await sn?.stop();
  await jira?.stop();
  await db?.close();
  await pg?.drop();
  await dir?.remove();
});

describe('ITSM records from a real worker', () => {
  it('a worker whose ServiceNow credential is not set refuses to start and names the variable', async () => {
    const { SERVICENOW_PASSWORD: _unset, ...without } = env;
    const proc = startWorker(without);
    const code = await proc.exited;
    // EXIT.error (README, "Exit codes"), not a signal or a crash
    expect(code, proc.stderr()).toBe(1);
    expect(proc.stderr()).toContain('environment variable SERVICENOW_PASSWORD is not set');
    expect(proc.stderr()).not.toContain(SN.SERVICENOW_USERNAME);
    expect(proc.stderr()).not.toContain(JIRA.JIRA_API_TOKEN);
    expect(proc.stderr()).not.toMatch(/patchbot worker is up/);
  }, 120_000);

  it('requested and approved in the ledger: one change_request and one issue, linked, whatever is redelivered', async () => {
    const [a, b] = changes as [(typeof changes)[0], (typeof changes)[0]];
    // the instance refuses every request about change B (an ACL says no)
    const aboutB = (c: SnCall) =>
      (c.query.sysparm_query ?? '').includes(`patchbot:change:${b.id}`) ||
      (c.body as { correlation_id?: string } | undefined)?.correlation_id === `patchbot:change:${b.id}`;
    sn.fail(403, { count: 1_000, match: aboutB });

    const worker = startWorker();
    await waitForLine(worker, /patchbot worker is up/, 90_000);
    expect(worker.stderr()).toMatch(/"sinks":\["servicenow","jira"\]/);

    const requested = await cli('changes', 'request', String(a.number), '--as', DEV);
    expect(requested.code, requested.stderr).toBe(0);
    await waitFor(
      'the change_request and the issue of change A, linked',
      async () => (await links(a.id)).length === 2,
      60_000,
    );
    const record = snChanges(a.number);
    expect(record).toHaveLength(1);
    expect(record[0]?.fields).toMatchObject({
      correlation_id: `patchbot:change:${a.id}`,
      state: '-5',
    });
    expect(record[0]?.fields.short_description).toContain(`patchbot #${a.number}: glibc`);
    const issue = jiraIssues(a.number);
    expect(issue).toHaveLength(1);
    expect(issue[0]?.fields.labels).toContain(`patchbot-change-${a.id}`);
    expect((await links(a.id)).map((l) => [l.system, l.kind, l.number, l.externalId])).toEqual([
      ['jira', 'change', issue[0]?.key, issue[0]?.id],
      ['servicenow', 'change', record[0]?.fields.number, record[0]?.fields.sys_id],
    ]);

    // two approvals (quorum 2): the second approves the change, the records move on
    const first = await cli('changes', 'approve', String(a.number), '--as', ALICE);
    expect(first.code, first.stderr).toBe(0);
    const second = await cli('changes', 'approve', String(a.number), '--as', BOB);
    expect(second.code, second.stderr).toBe(0);
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: a.id } })).status).toBe(
      'approved',
    );
    // the events the sinks take (change.opened, written with the campaign, is not one of them)
    const types = (
      await db.prisma.outbox.findMany({
        where: { kind: 'event', payload: { path: ['changeId'], equals: a.id } },
        orderBy: { id: 'asc' },
      })
    )
      .map((r) => (r.payload as { type: string }).type)
      .filter((t) => t !== 'change.opened');
    expect(types).toEqual(['change.requested', 'change.approved']);
    const events = types.length;
    await waitFor(
      'every event of change A delivered to both sinks, the change_request in Assess',
      async () =>
        (await allDelivered('servicenow', a.id, events)) &&
        (await allDelivered('jira', a.id, events)) &&
        snChanges(a.number)[0]?.fields.state === '-4',
      60_000,
    );
    expect(snChanges(a.number)[0]?.journal.map((j) => j.value)).toContain(
      `Approved in chat (patchbot #${a.number}).`,
    );

    // at least once: the deliveries come again (a worker lost its lease after the far side took them)
    const postsBefore = creates(a.id).length;
    const jiraCreatesBefore = jira.calls.filter(
      (c) => c.method === 'POST' && c.path === '/rest/api/3/issue',
    ).length;
    await db.prisma.outbox.updateMany({
      where: {
        kind: { in: ['sink:servicenow', 'sink:jira'] },
        payload: { path: ['changeId'], equals: a.id },
      },
      data: { deliveredAt: null, attempts: 0, lockedBy: null, lockedUntil: null, availableAt: new Date() },
    });
    await waitFor(
      'the redeliveries of change A done',
      async () =>
        (await allDelivered('servicenow', a.id, events)) && (await allDelivered('jira', a.id, events)),
      60_000,
    );
    expect(snChanges(a.number)).toHaveLength(1);
    expect(jiraIssues(a.number)).toHaveLength(1);
    expect(creates(a.id)).toHaveLength(postsBefore);
    expect(postsBefore).toBe(1);
    expect(jira.calls.filter((c) => c.method === 'POST' && c.path === '/rest/api/3/issue')).toHaveLength(
      jiraCreatesBefore,
    );
    expect(await links(a.id)).toHaveLength(2);

    // change B: the instance answers 403, so the delivery is dead-lettered at once; Jira takes it
    const refused = await cli('changes', 'request', String(b.number), '--as', DEV);
    expect(refused.code, refused.stderr).toBe(0);
    await waitFor(
      'the ServiceNow delivery of change B dead-lettered',
      async () => (await deliveries('servicenow', b.id)).some((d) => d.failedAt !== null),
      60_000,
    );
    await waitFor('the Jira issue of change B', async () => (await links(b.id)).length === 1, 60_000);
    expect(sn.calls.filter(aboutB).every((c) => c.status === 403)).toBe(true);
    expect(snChanges(b.number)).toEqual([]);

    const failed = await cli('webhooks', 'failed', '--sink', 'servicenow', '--format', 'json');
    expect(failed.code, failed.stderr).toBe(0);
    const listed = (
      JSON.parse(failed.stdout) as {
        failed: { id: string; sink: string; eventId: string; attempts: number; lastError: string }[];
      }
    ).failed;
    const bRequested = (await deliveries('servicenow', b.id))[0];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      id: bRequested?.id.toString(),
      sink: 'servicenow',
      eventId: (bRequested?.payload as { id: string }).id,
      attempts: 1,
    });
    expect(listed[0]?.lastError).toMatch(/403/);
    expect(listed[0]?.lastError).not.toContain(SN.SERVICENOW_PASSWORD);
    const jiraFailed = await cli('webhooks', 'failed', '--sink', 'jira', '--format', 'json');
    expect((JSON.parse(jiraFailed.stdout) as { failed: unknown[] }).failed).toEqual([]);

    // the instance takes it again: a retry files change B's record, once
    sn.clearFailures();
    const retried = await cli('webhooks', 'retry', listed[0]?.id ?? '');
    expect(retried.code, retried.stderr).toBe(0);
    await waitFor('the change_request of change B', async () => (await links(b.id)).length === 2, 60_000);
    expect(snChanges(b.number)).toHaveLength(1);
    expect(snChanges(a.number)).toHaveLength(1);
    const none = await cli('webhooks', 'failed', '--sink', 'servicenow');
    expect(none.stdout).toContain('no failed deliveries');
  }, 300_000);
});
