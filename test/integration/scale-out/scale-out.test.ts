/**
 * Scale-out: two `patchbot serve --no-worker` and three `patchbot worker` processes (node
 * bin/patchbot.js) on one PostgreSQL database and one Redis key prefix, against 200 real sshd hosts
 * (test/support/fleet-hosts.ts) and the fake Slack Web API.
 *
 * 1. Every periodic job runs once per period although three workers schedule it: feeds sync,
 *    inventory collection and the deployment reconciler (short intervals from the policy file),
 *    read back from their job records in Redis and their rows in PostgreSQL (inventory snapshots and
 *    audit rows, FeedState); the weekly digest once (DigestRun, one post).
 * 2. A 200-host change is approved by a burst of signed Slack clicks sent alternately to the two
 *    serve processes (the ledger's invariants hold), deployed by the workers, one of which is killed
 *    with SIGKILL in the middle of the ring: every host is installed exactly once (counted on the
 *    hosts), no host run is lost, and the surviving workers finish it.
 * 3. /metrics of a serve and a worker process name every metric docs/metrics.md documents, with
 *    its documented labels.
 *
 * Needs root, openssh-server and sudo (.ci/install-system-deps), PostgreSQL and Redis.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackPoster } from '../../../src/bot/slack/index.js';
import { ACTION_IDS } from '../../../src/bot/slack/render.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { createRepositories, type Repositories } from '../../../src/db/index.js';
import { createApprovals } from '../../../src/usecases/approvals/index.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { expectLedgerHolds, logger } from '../approvals/support.js';
import { registerFleet, reposOf, waitFor } from '../deployments/support.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { allRunsEnded, startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { documentedMetricTable } from '../../support/metrics-doc.js';
import {
  blockActionsBody,
  postToSlackApp,
  signedHeaders,
  TEST_SIGNING_SECRET,
} from '../../support/slack-signing.js';
import { fingerprintToHex } from '../../../src/usecases/hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import {
  httpGet,
  parseExposition,
  startServe,
  startWorkerProcess,
  stopProcess,
  type PatchbotProcess,
  type ProcessEnv,
} from './support.js';

const HOSTS = 200;
const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const CHANNEL = 'C0PAYMENTS1';
const APPROVERS = ['U0ALICE0001', 'U0BOBBY0002', 'U0CAROL0003', 'U0DAVID0004'];
const OUTSIDER = 'U0MALLORY05';
const REDIS_URL = process.env.PATCHBOT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEV_FIXTURE = new URL('../../fixtures/feeds/kev/known_exploited_vulnerabilities.json', import.meta.url);
/** Hosts collected while the periodic jobs are watched (the rest join for the rollout). */
const PROBES = 3;
const PERIODS = { feeds: 4_000, inventory: 6_000, reconcile: 3_000 };

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let tmp: TempDir;
let fake: FakeSlackWebApi;
let redis: Redis;
let fleet: Fleet;
let env: ProcessEnv;
const prefix = `pbscale-${randomBytes(4).toString('hex')}`;
const serves: PatchbotProcess[] = [];
let workers: PatchbotProcess[] = [];
const stopped: PatchbotProcess[] = [];

/** Today's weekday and a time two minutes ago, in a zone where that is still today (catch-up runs now). */
function digestJustPassed(now = new Date()): { weekday: string; time: string; timeZone: string } {
  const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  for (const [timeZone, offsetH] of [
    ['UTC', 0],
    ['Etc/GMT-6', 6],
  ] as const) {
    const local = new Date(now.getTime() + offsetH * 3_600_000);
    const before = new Date(local.getTime() - 2 * 60_000);
    if (before.getUTCDay() !== local.getUTCDay()) continue;
    const hh = String(before.getUTCHours()).padStart(2, '0');
    const mm = String(before.getUTCMinutes()).padStart(2, '0');
    return { weekday: days[before.getUTCDay()] ?? 'mon', time: `${hh}:${mm}`, timeZone };
  }
  throw new Error('no zone where two minutes ago is today');
}

function policyInput(intervals: { feeds: string; inventory: string; reconcile: string }, kevFile: string) {
  return {
    ssh: {
      user: fleet.hosts[0]?.ssh.user,
      identityFile: fleet.clientKeyPath,
      connectTimeout: '10s',
      commandTimeout: '60s',
      concurrency: 10,
    },
    teams: [
      {
        name: 'payments',
        slack: { channels: [CHANNEL] },
        approvers: { '*': { slackUsers: APPROVERS } },
        digest: digestJustPassed(),
      },
    ],
    approval: { default: { quorum: 2, expiry: '72h' } },
    feeds: {
      syncInterval: intervals.feeds,
      sources: {
        'debian-tracker': { enabled: false },
        'osv-debian': { enabled: false },
        epss: { enabled: false },
        kev: { url: kevFile },
      },
    },
    inventory: { collectInterval: intervals.inventory },
    rings: [{ name: 'all', concurrency: 12, failureBudget: 0 }],
    deployments: {
      sudo: true,
      reboot: { policy: 'never' },
      retry: { attempts: 1, backoff: '1s' },
      onFailure: 'halt',
      reconcileInterval: intervals.reconcile,
    },
  };
}

/** The scheduler's jobs in Redis: one per period, with when the period began and when it ran. */
async function schedulerRuns(
  queueName: string,
  schedulerId: string,
): Promise<{ slot: number; processedOn: number; finishedOn: number | undefined; state: string }[]> {
  const q = new Queue(queueName, { connection: redis, prefix });
  try {
    const jobs = await q.getJobs(['completed', 'failed', 'active'], 0, -1);
    const mine = jobs.filter((j) => (j.id ?? '').startsWith(`repeat:${schedulerId}:`));
    return Promise.all(
      mine.map(async (j) => ({
        slot: Number((j.id ?? '').split(':').pop()),
        processedOn: j.processedOn ?? 0,
        finishedOn: j.finishedOn,
        state: await j.getState(),
      })),
    ).then((runs) => runs.sort((a, b) => a.slot - b.slot));
  } finally {
    await q.close();
  }
}

/**
 * One run per period: every run belongs to its own period (the job id names it) and the periods are
 * whole multiples of the interval apart (a period a busy machine skipped shows as a gap, never as
 * a second run).
 */
function expectOncePerPeriod(runs: { slot: number }[], every: number, what: string): void {
  const slots = runs.map((r) => r.slot);
  expect(new Set(slots).size, `${what}: two runs of one period (${slots.join(', ')})`).toBe(slots.length);
  for (let i = 1; i < slots.length; i += 1) {
    const gap = (slots[i] ?? 0) - (slots[i - 1] ?? 0);
    expect(gap >= every && gap % every === 0, `${what}: periods ${slots.join(', ')}`).toBe(true);
  }
}

beforeAll(async () => {
  pg = await createTempPostgres('scaleout');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  tmp = await createTempDir('scaleout');
  fake = await FakeSlackWebApi.start();
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  fleet = await startFleet(
    Array.from({ length: HOSTS }, (_, i) => ({
      name: `so-${String(i + 1).padStart(3, '0')}`,
      installed: [{ name: 'openssl', version: OLD, source: 'openssl' }],
      available: [{ name: 'openssl', version: NEW }],
    })),
    // 127.1.0.0/16 is loopback and used by no other test
    { address: (i) => `127.1.${Math.floor(i / 200)}.${(i % 200) + 1}`, parallel: 4 },
  );
  env = {
    databaseUrl: pg.url,
    redisUrl: REDIS_URL,
    prefix,
    policyFile: path.join(tmp.dir, 'patchbot.yaml'),
    slackApiUrl: fake.apiUrl,
    signingSecret: TEST_SIGNING_SECRET,
    cwd: tmp.dir,
  };
}, 600_000);

afterAll(async () => {
  for (const p of [...serves, ...workers, ...stopped]) p.proc.child.kill('SIGKILL');
  await fleet?.stop();
  if (redis) {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
  await fake?.close();
  await db?.close();
  await pg?.drop();
  await tmp?.remove();
}, 120_000);

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('two serve and three worker processes', () => {
  let kevFile: string;

  it('run every periodic job once per period', async () => {
    // a few real KEV entries (test/fixtures/feeds/kev, see its PROVENANCE.md): a cheap sync every period
    const kev = JSON.parse(await readFile(KEV_FIXTURE, 'utf8')) as { vulnerabilities: unknown[] };
    kev.vulnerabilities = kev.vulnerabilities.slice(0, 3);
    kevFile = path.join(tmp.dir, 'kev.json');
    await writeFile(kevFile, JSON.stringify({ ...kev, count: kev.vulnerabilities.length }));
    await writeFile(
      env.policyFile,
      stringify(policyInput({ feeds: '4s', inventory: '6s', reconcile: '3s' }, kevFile)),
    );
    // the probes are collected every period over SSH
    for (const h of fleet.hosts.slice(0, PROBES))
      await repos.hosts.upsert({
        name: h.name,
        address: h.ssh.address,
        port: h.ssh.port,
        sshUser: h.ssh.user,
        hostKeys: [{ sha256: fingerprintToHex(h.ssh.hostKeyFingerprint, h.name), type: null }],
        labels: {},
      });

    // every process migrates (concurrently) and syncs the policy's teams and hosts at start
    const started = await Promise.all([
      startServe('serve-a', env),
      startServe('serve-b', env),
      startWorkerProcess('worker-1', env),
      startWorkerProcess('worker-2', env),
      startWorkerProcess('worker-3', env),
    ]);
    serves.push(...started.slice(0, 2));
    workers = started.slice(2);

    const enough = async () => {
      const feeds = await schedulerRuns('maintenance', 'feeds-sync');
      const inventory = await schedulerRuns('maintenance', 'inventory-collect');
      const reconcile = await schedulerRuns('deployments', 'deployment-reconcile');
      const done = (runs: { state: string }[]) => runs.filter((r) => r.state === 'completed').length;
      return done(feeds) >= 4 && done(inventory) >= 4 && done(reconcile) >= 4 ? true : undefined;
    };
    await waitFor('four periods of every periodic job', enough, 300_000);
    // the probes' runs in flight finish before the rows are counted
    await waitFor(
      'no periodic job running',
      async () => {
        const runs = [
          ...(await schedulerRuns('maintenance', 'feeds-sync')),
          ...(await schedulerRuns('maintenance', 'inventory-collect')),
          ...(await schedulerRuns('deployments', 'deployment-reconcile')),
        ];
        return runs.every((r) => r.state !== 'active');
      },
      120_000,
    );

    const feeds = await schedulerRuns('maintenance', 'feeds-sync');
    const inventory = await schedulerRuns('maintenance', 'inventory-collect');
    const reconcile = await schedulerRuns('deployments', 'deployment-reconcile');
    expectOncePerPeriod(feeds, PERIODS.feeds, 'feeds sync');
    expectOncePerPeriod(inventory, PERIODS.inventory, 'inventory collection');
    expectOncePerPeriod(reconcile, PERIODS.reconcile, 'reconciler');
    for (const runs of [feeds, inventory, reconcile])
      expect(runs.every((r) => r.state === 'completed')).toBe(true);

    // the rows each run leaves: one audit row and one snapshot per probe per collection
    const audits = await db.prisma.auditLog.findMany({ where: { action: 'inventory.collect' } });
    expect(audits).toHaveLength(inventory.length);
    for (const h of fleet.hosts.slice(0, PROBES)) {
      const snapshots = await db.prisma.inventorySnapshot.count({ where: { host: { name: h.name } } });
      expect(snapshots, `${h.name}: ${JSON.stringify(audits.map((a) => a.details))}`).toBe(inventory.length);
    }
    const freshness = await db.prisma.feedFreshness.findMany();
    expect(freshness.map((f) => f.feed)).toEqual(['kev']);
    expect(freshness[0]?.location).toContain('kev.json');

    // the digest: three workers scheduled this week's missed run, one claimed and posted it
    await waitFor(
      'the digest posted',
      async () => (await db.prisma.digestRun.findMany({ where: { state: 'posted' } })).length > 0,
      120_000,
    );
    const digests = await db.prisma.digestRun.findMany();
    expect(digests).toHaveLength(1);
    const topLevel = fake.messages.filter((m) => m.channel === CHANNEL && m.threadTs === undefined);
    expect(topLevel).toHaveLength(1);

    // the workers stop cleanly; the rollout runs on three new ones with the production schedule
    const codes = await Promise.all(workers.map((w) => stopProcess(w)));
    expect(codes).toEqual([0, 0, 0]);
    stopped.push(...workers);
    workers = [];
  }, 900_000);

  it('approve a 200-host change through both serves and deploy it with a worker killed mid-ring', async () => {
    // workers left running by a failed first test would run this rollout too
    for (const w of workers.splice(0)) {
      await stopProcess(w);
      stopped.push(w);
    }
    await writeFile(
      env.policyFile,
      stringify(policyInput({ feeds: '6h', inventory: '24h', reconcile: '3s' }, kevFile)),
    );
    workers = await Promise.all([
      startWorkerProcess('worker-4', env),
      startWorkerProcess('worker-5', env),
      startWorkerProcess('worker-6', env),
    ]);
    // the schedules' first runs (at once on a changed interval) end before the fleet joins
    const maintenance = new Queue('maintenance', { connection: redis, prefix });
    await waitFor(
      'the maintenance queue idle',
      async () => {
        const c = await maintenance.getJobCounts('waiting', 'active', 'prioritized');
        return (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0;
      },
      180_000,
    );
    await maintenance.close();

    const policy = Policy.parse(policyInput({ feeds: '6h', inventory: '24h', reconcile: '3s' }, kevFile));
    await registerFleet(reposOf(db), fleet);
    const hostRows = await db.prisma.host.findMany({ where: { name: { startsWith: 'so-' } } });
    expect(hostRows).toHaveLength(HOSTS);
    const advisoryId = `DSA-SCALE-${randomBytes(3).toString('hex')}`;
    await db.prisma.advisory.create({
      data: {
        id: advisoryId,
        source: 'osv',
        modified: new Date(),
        contentHash: advisoryId,
        summary: 'openssl',
      },
    });
    await db.prisma.finding.createMany({
      data: hostRows.map((h) => ({
        hostId: h.id,
        packageName: 'openssl',
        sourcePackage: 'openssl',
        advisoryId,
        ecosystem: 'Debian:12',
        installedVersion: OLD,
        fixedVersion: NEW,
      })),
    });
    const findings = await db.prisma.finding.findMany({ where: { advisoryId }, select: { id: true } });
    // the campaign message, posted as notify posts it
    const poster = await createSlackPoster({ token: 'xoxb-test-token', apiUrl: fake.apiUrl, logger });
    const approvals = createApprovals({
      repos,
      policy,
      now: () => new Date(),
      logger,
      platforms: () => [poster],
    });
    const { changeId } = await approvals.campaigns.upsertCampaign(
      {
        team: 'payments',
        ecosystem: 'Debian:12',
        packageName: 'openssl',
        sourcePackage: 'openssl',
        fixedVersion: NEW,
        findingIds: findings.map((f) => f.id),
        riskScore: 80,
        severity: 'high',
        kev: false,
      },
      new Date(),
    );
    const ref = await poster.post({ channel: CHANNEL }, await approvals.campaignView(changeId, new Date()));
    await approvals.campaigns.recordMessage(changeId, ref);
    // installs take a moment on every host, so the kill below finds some in flight
    for (const h of fleet.hosts) await h.setSlowInstall(1);

    // 12 clicks at once, alternating between the two serve processes: each approver twice, an outsider
    const people = [...APPROVERS, OUTSIDER, APPROVERS[0] ?? ''];
    const clicks = [...people, ...people].map((user, i) => {
      const responseUrl = fake.responseUrl();
      const body = blockActionsBody({
        userId: user,
        userName: user.toLowerCase(),
        actionId: ACTION_IDS.approve,
        value: changeId,
        channelId: CHANNEL,
        messageTs: ref.id,
        responseUrl,
      });
      const serve = serves[i % 2];
      return { serve, body, id: responseUrl.split('/').pop() ?? '' };
    });
    const acks = await Promise.all(
      clicks.map((c) =>
        postToSlackApp(
          `http://127.0.0.1:${c.serve.port}/slack/events`,
          c.body,
          signedHeaders(TEST_SIGNING_SECRET, c.body),
        ),
      ),
    );
    expect(acks.map((a) => a.status)).toEqual(clicks.map(() => 200));
    const ids = new Set(clicks.map((c) => c.id));
    await waitFor(
      'every click answered',
      async () => {
        const refusals = fake.responses.filter((r) => ids.has(r.id)).length;
        const recorded = await db.prisma.decision.count({
          where: { changeRequestId: changeId, kind: 'approve' },
        });
        return refusals + recorded >= clicks.length ? true : undefined;
      },
      120_000,
    );
    const recorded = await db.prisma.decision.findMany({
      where: { changeRequestId: changeId, kind: 'approve' },
    });
    expect(recorded).toHaveLength(2);
    expect(recorded.map((d) => d.actorId)).not.toContain(OUTSIDER);
    await expectLedgerHolds({ db, repos, policy }, changeId);
    expect((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } })).status).toBe(
      'approved',
    );

    // the approving serve scheduled one deployment; the workers roll it out
    const deployment = await waitFor(
      'the deployment',
      async () =>
        (await db.prisma.deployment.findFirst({ where: { changeRequestId: changeId } })) ?? undefined,
      120_000,
    );
    expect(await db.prisma.deployment.count({ where: { changeRequestId: changeId } })).toBe(1);
    const runsOf = () => repos.deployments.detail(deployment.id).then((d) => d.rings.flatMap((r) => r.hosts));
    // which process runs which host: a running host run names its worker (host:pid/lane)
    const pidOf = (workerId: string | null) => Number(/:(\d+)\//.exec(workerId ?? '')?.[1] ?? NaN);
    const seen: { id: string; pid: number; at: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const running = await db.prisma.hostRun.findMany({
          where: { ring: { deploymentId: deployment.id }, state: 'running' },
          select: { id: true, workerId: true },
        });
        const at = Date.now();
        for (const r of running) seen.push({ id: r.id, pid: pidOf(r.workerId), at });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // mid-ring: a quarter done, and the victim holds hosts whose install reached them
    const victim = await waitFor(
      'a worker in the middle of installs',
      async () => {
        const runs = await runsOf();
        if (runs.filter((r) => r.status === 'succeeded').length < HOSTS / 4) return undefined;
        const installing = runs.filter((r) => r.state === 'running' && r.installSentAt !== null);
        for (const w of workers) {
          const mine = installing.filter((r) => pidOf(r.workerId) === w.pid);
          if (mine.length === 0) continue;
          const begun = await Promise.all(
            mine.map(async (r) => (await fleet.host(r.hostName).installsBegun()).length),
          );
          if (begun.some((n) => n > 0)) return w;
        }
        return undefined;
      },
      600_000,
    );
    victim.proc.child.kill('SIGKILL');
    await victim.proc.exited;
    const killedAt = Date.now();
    // what it held when it died (a dead process claims nothing more)
    const heldAtKill = (await runsOf()).filter(
      (r) => r.state === 'running' && pidOf(r.workerId) === victim.pid,
    );
    workers = workers.filter((w) => w !== victim);
    stopped.push(victim);
    expect(heldAtKill.length).toBeGreaterThan(0);

    await waitFor(
      'the deployment completed',
      async () => {
        const d = await db.prisma.deployment.findUniqueOrThrow({ where: { id: deployment.id } });
        if (['halted', 'failed', 'aborted', 'rolled_back', 'rollback_failed'].includes(d.state))
          throw new Error(`the deployment ended ${d.state}: ${d.haltedReason ?? ''}`);
        return d.state === 'completed' ? true : undefined;
      },
      900_000,
    );
    const runs = await runsOf();
    expect(runs).toHaveLength(HOSTS);
    expect(runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.hostName}: ${r.status}`)).toEqual([]);
    sampling = false;
    await sampler;
    // spread over the workers: each of the three ran hosts, and the survivors finished the ring
    const pids = new Set(seen.map((x) => x.pid));
    expect([...pids].sort()).toEqual([...workers, victim].map((w) => w.pid).sort());
    // after the kill the victim holds only what it held (until taken over); the others go on
    const held = new Set(heldAtKill.map((r) => r.id));
    const after = seen.filter((x) => x.at > killedAt);
    expect(after.filter((x) => x.pid === victim.pid && !held.has(x.id))).toEqual([]);
    expect(after.some((x) => x.pid !== victim.pid)).toBe(true);
    // the hosts the victim held were taken over (a second attempt), not installed again
    for (const r of heldAtKill) {
      const now = runs.find((x) => x.id === r.id);
      expect(now?.attempt ?? 0, r.hostName).toBeGreaterThanOrEqual(2);
    }
    // counted on the hosts: one install each, the new version, nothing interrupted
    await allRunsEnded(fleet, 120_000);
    const twice: string[] = [];
    for (const h of fleet.hosts) {
      const log = await h.installLog();
      if (log.length !== 1) twice.push(`${h.name}: ${log.length}`);
      expect((await h.installed()).get('openssl'), h.name).toBe(NEW);
      expect(await h.signals(), h.name).toEqual([]);
    }
    expect(twice).toEqual([]);
  }, 1_800_000);

  it('expose every documented metric with its labels on serve and worker /metrics', async () => {
    // a job that fails for good (its payload is refused), so the failure counter has a sample
    const chat = new Queue('chat', { connection: redis, prefix });
    const bad = await chat.add('chat.command', { text: 42 }, { attempts: 1 });
    await waitFor(
      'the bad job failed',
      async () => ((await bad.getState()) === 'failed' ? true : undefined),
      60_000,
    );
    await chat.close();

    const { metrics: documented } = await documentedMetricTable();
    const scrape = async (p: PatchbotProcess) => {
      // a request first, so the latency histogram has a sample of its own
      expect((await httpGet(p.port, '/healthz')).status).toBe(200);
      const res = await httpGet(p.port, '/metrics');
      expect(res.status).toBe(200);
      return { p, ...parseExposition(res.body) };
    };
    const scraped = [await scrape(serves[0]), ...(await Promise.all(workers.map(scrape)))];
    // what only a worker does (jobs, SSH) or only a serve (chat) shows where it happened; the
    // announcement counter stays empty here (the campaign was posted by the test itself)
    const needSample: Record<string, 'serve' | 'worker' | 'any' | 'none'> = {
      patchbot_jobs_total: 'worker',
      patchbot_job_failures_total: 'worker',
      patchbot_ssh_command_duration_seconds: 'worker',
      patchbot_chat_requests_total: 'serve',
      patchbot_decisions_total: 'serve',
      patchbot_notification_posts_total: 'none',
    };
    for (const m of documented) {
      const where = needSample[m.name] ?? 'any';
      const seriesIn = (s: (typeof scraped)[number]) =>
        s.samples.filter((x) => (m.type === 'histogram' ? x.name === `${m.name}_count` : x.name === m.name));
      for (const s of scraped) {
        expect(s.types.get(m.name), `${s.p.name}: # TYPE of ${m.name}`).toBe(m.type);
        for (const x of seriesIn(s))
          expect(Object.keys(x.labels).sort(), `${s.p.name}: labels of ${m.name}`).toEqual(
            [...m.labels].sort(),
          );
      }
      const serveHas = seriesIn(scraped[0]).length > 0;
      const workerHas = scraped.slice(1).some((s) => seriesIn(s).length > 0);
      if (where === 'any') {
        expect(serveHas, `serve: samples of ${m.name}`).toBe(true);
        for (const s of scraped.slice(1))
          expect(seriesIn(s).length, `${s.p.name}: samples of ${m.name}`).toBeGreaterThan(0);
      }
      if (where === 'serve') expect(serveHas, `serve: samples of ${m.name}`).toBe(true);
      if (where === 'worker') expect(workerHas, `workers: samples of ${m.name}`).toBe(true);
    }
    // the SSH histogram names the package manager of the installs, and the failed job as final
    const all = scraped.flatMap((s) => s.samples);
    expect(
      all.some(
        (x) =>
          x.name === 'patchbot_ssh_command_duration_seconds_count' &&
          x.labels.verb === 'apt-get' &&
          x.labels.outcome === 'ok' &&
          x.value > 0,
      ),
    ).toBe(true);
    expect(
      all.some(
        (x) =>
          x.name === 'patchbot_job_failures_total' &&
          x.labels.job === 'chat.command' &&
          x.labels.retried === 'false',
      ),
    ).toBe(true);
    expect(
      all.some((x) => x.name === 'patchbot_deployments' && x.labels.state === 'completed' && x.value === 1),
    ).toBe(true);
  }, 120_000);
});
