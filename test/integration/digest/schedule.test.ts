/**
 * Digest scheduling on BullMQ (real Redis) with a controllable clock: the delayed job of each team
 * lands at its wall-clock time across the DST changes of Europe and the US, the job schedules the
 * next week when it runs, an early wake-up goes back to sleep, a digest missed within the last day
 * is caught up, jobs
 * the policy no longer asks for are dropped, and two workers with duplicate jobs post once.
 */
import { randomBytes } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatPlatform } from '../../../src/bot/chat-platform.js';
import { createSlackPoster } from '../../../src/bot/slack/web-client.js';
import { Policy, type PolicyInput } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { connectRedis } from '../../../src/jobs/connection.js';
import { Jobs } from '../../../src/jobs/definitions.js';
import { createDigestJob, scheduleDigests } from '../../../src/jobs/digest.js';
import { createJobQueue, type JobQueue } from '../../../src/jobs/queue.js';
import { JobHandlers, startJobRunner, type JobRunner } from '../../../src/jobs/worker.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';

const logger = createLogger({ level: 'silent' });
const CH = { payments: 'C0PAYMENTS1', web: 'C0WEBTEAM01' };

function policyWith(teams: PolicyInput['teams']) {
  return Policy.parse({ teams });
}
const BERLIN_MON_9 = { weekday: 'mon', time: '09:00', timeZone: 'Europe/Berlin' };
const NEW_YORK_MON_9 = { weekday: 'mon', time: '09:00', timeZone: 'America/New_York' };
let policy = policyWith([
  { name: 'payments', slack: { channels: [CH.payments] }, digest: BERLIN_MON_9 },
  { name: 'web', slack: { channels: [CH.web] }, digest: NEW_YORK_MON_9 },
]);

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let fake: FakeSlackWebApi;
let slack: ChatPlatform;
const redis: Redis[] = [];
let queue: JobQueue;
const prefix = `pbtest-digest-${randomBytes(4).toString('hex')}`;
/** The controllable clock every part reads. */
let clock = new Date('2026-03-27T12:00:00Z');
const now = () => clock;

async function delayedDigests(): Promise<{ id: string; team: string; runAt: string; delay: number }[]> {
  const jobs = await queue.queue('maintenance').getDelayed();
  return jobs
    .filter((j) => j.name === Jobs.digest.name)
    .map((j) => ({
      id: j.id ?? '',
      team: (j.data as { team: string }).team,
      runAt: (j.data as { runAt: string }).runAt,
      delay: j.opts.delay ?? 0,
    }))
    .sort((a, b) => a.runAt.localeCompare(b.runAt));
}

function startRunner(connection: Redis): JobRunner {
  const handlers = new JobHandlers().on(
    Jobs.digest,
    createDigestJob({
      repos,
      policy,
      platforms: () => [slack],
      queue,
      now,
      logger,
      workerId: `worker-${redis.indexOf(connection)}`,
    }),
  );
  const runner = startJobRunner({ connection, handlers, logger, prefix });
  runners.push(runner);
  return runner;
}

/** Every runner started (a job may be taken by any of them). */
const runners: JobRunner[] = [];

/** Runs a delayed job now (as if its delay had passed) and waits for its result. */
async function runNow(job: Job): Promise<unknown> {
  const done = new Promise<unknown>((resolve, reject) => {
    for (const w of runners.flatMap((r) => r.workers)) {
      w.on('completed', (j, result) => {
        if (j.id === job.id) resolve(result);
      });
      w.on('failed', (j, err) => {
        if (j?.id === job.id) reject(err);
      });
    }
  });
  await job.promote();
  return done;
}

async function jobFor(team: string, runAt: string): Promise<Job> {
  const jobs = await queue.queue('maintenance').getDelayed();
  const job = jobs.find(
    (j) => (j.data as { team: string }).team === team && (j.data as { runAt: string }).runAt === runAt,
  );
  if (!job) throw new Error(`no delayed digest job for ${team} at ${runAt}`);
  return job;
}

beforeAll(async () => {
  pg = await createTempPostgres('digest-schedule');
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await db.migrate();
  repos = createRepositories(db);
  await repos.teams.syncPolicy(
    policy.teams.map((t) => ({ name: t.name, slackChannels: t.slack.channels })),
    new Date(),
  );
  fake = await FakeSlackWebApi.start();
  slack = await createSlackPoster({ token: 'xoxb-test-token', apiUrl: fake.apiUrl, logger, intervalMs: 10 });
  for (let i = 0; i < 3; i++) redis.push(await connectRedis('redis://127.0.0.1:6379'));
  queue = createJobQueue(redis[0], { prefix });
});

afterAll(async () => {
  await queue?.queue('maintenance').obliterate({ force: true });
  await queue?.close();
  for (const r of redis) await r.quit();
  await fake?.close();
  await db?.close();
  await pg?.drop();
});

describe('digest schedule on BullMQ', () => {
  let runner: JobRunner;
  beforeAll(() => {
    runner = startRunner(redis[1]);
  });
  afterAll(async () => {
    await runner.close();
  });

  it('delays each team to its wall-clock time across the European DST change', async () => {
    // Friday 27 March 2026; Europe moves to summer time on Sunday 29 March.
    clock = new Date('2026-03-27T12:00:00Z');
    const planned = await scheduleDigests(queue, policy, { repos, now: clock });
    expect(planned.map((p) => [p.team, p.runAt.toISOString(), p.catchUp])).toEqual([
      ['payments', '2026-03-30T07:00:00.000Z', false], // 09:00 CEST
      ['web', '2026-03-30T13:00:00.000Z', false], // 09:00 EDT
    ]);
    // Several workers starting at once schedule each run once.
    await scheduleDigests(queue, policy, { repos, now: clock });
    const delayed = await delayedDigests();
    expect(delayed.map((j) => [j.team, j.runAt, j.delay])).toEqual([
      ['payments', '2026-03-30T07:00:00.000Z', Date.parse('2026-03-30T07:00:00Z') - clock.getTime()],
      ['web', '2026-03-30T13:00:00.000Z', Date.parse('2026-03-30T13:00:00Z') - clock.getTime()],
    ]);
  });

  it('goes back to sleep when it wakes up early', async () => {
    clock = new Date('2026-03-30T06:30:00Z'); // 08:30 in Berlin
    const result = await runNow(await jobFor('payments', '2026-03-30T07:00:00.000Z'));
    expect(result).toMatchObject({ outcome: 'rescheduled' });
    const again = (await delayedDigests()).filter((j) => j.team === 'payments');
    expect(again.map((j) => [j.runAt, j.delay])).toEqual([['2026-03-30T07:00:00.000Z', 30 * 60_000]]);
    expect(fake.messages).toHaveLength(0);
  });

  it('posts at its time and schedules the next week', async () => {
    clock = new Date('2026-03-30T07:00:00Z');
    const result = await runNow(await jobFor('payments', '2026-03-30T07:00:00.000Z'));
    expect(result).toMatchObject({ outcome: 'posted', weekStart: '2026-03-30', verdict: 'on-track' });
    expect(fake.messages.filter((m) => m.channel === CH.payments && !m.threadTs)).toHaveLength(1);
    expect(fake.files.filter((f) => f.channel === CH.payments)).toHaveLength(1);
    const next = (await delayedDigests()).filter((j) => j.team === 'payments');
    expect(next.map((j) => [j.runAt, j.delay])).toEqual([['2026-04-06T07:00:00.000Z', 7 * 86_400_000]]);
  });

  it('posts once when two workers run duplicate jobs for the same week', async () => {
    const second = startRunner(redis[2]);
    try {
      clock = new Date('2026-03-30T13:00:00Z');
      // A duplicate of the web run under another id (a catch-up from a second scheduler).
      await queue.enqueue(
        Jobs.digest,
        { team: 'web', runAt: '2026-03-30T13:00:00.000Z' },
        { jobId: 'digest-web-duplicate', delayMs: 60_000 },
      );
      const jobs = (await queue.queue('maintenance').getDelayed()).filter(
        (j) => (j.data as { team: string }).team === 'web',
      );
      expect(jobs).toHaveLength(2);
      const results = await Promise.all([runNow(jobs[0] as Job), runNow(jobs[1] as Job)]);
      const outcomes = results.map((r) => (r as { outcome: string }).outcome).sort();
      expect(outcomes[1]).toBe('posted');
      expect(['already-posted', 'in-progress']).toContain(outcomes[0]);
      expect(fake.messages.filter((m) => m.channel === CH.web && !m.threadTs)).toHaveLength(1);
      expect(await db.prisma.digestRun.count({ where: { team: { name: 'web' } } })).toBe(1);
      // Both scheduled the same next run: one job.
      const next = (await delayedDigests()).filter((j) => j.team === 'web');
      expect(next.map((j) => j.runAt)).toEqual(['2026-04-06T13:00:00.000Z']);
    } finally {
      await second.close();
    }
  });

  it('follows the US changes: 13:00 UTC after 8 March, 14:00 UTC after 1 November', async () => {
    await queue.queue('maintenance').obliterate({ force: true });
    clock = new Date('2026-03-06T15:00:00Z'); // Friday before the US change
    const planned = await scheduleDigests(queue, policy, { repos, now: clock });
    expect(planned.find((p) => p.team === 'web')?.runAt.toISOString()).toBe('2026-03-09T13:00:00.000Z');
    clock = new Date('2026-03-09T13:00:00Z');
    await runNow(await jobFor('web', '2026-03-09T13:00:00.000Z'));
    expect((await delayedDigests()).find((j) => j.team === 'web')?.runAt).toBe('2026-03-16T13:00:00.000Z');

    await queue.queue('maintenance').obliterate({ force: true });
    clock = new Date('2026-10-30T15:00:00Z');
    const fall = await scheduleDigests(queue, policy, { repos, now: clock });
    expect(fall.map((p) => [p.team, p.runAt.toISOString()])).toEqual([
      ['payments', '2026-11-02T08:00:00.000Z'], // Europe changed back on 25 October
      ['web', '2026-11-02T14:00:00.000Z'],
    ]);
  });

  it('catches up a missed week and drops jobs the policy no longer asks for', async () => {
    await queue.queue('maintenance').obliterate({ force: true });
    // Monday 5 October, evening: that morning's digests never ran (the worker was down).
    clock = new Date('2026-10-05T20:00:00Z');
    const planned = await scheduleDigests(queue, policy, { repos, now: clock });
    expect(planned.filter((p) => p.catchUp).map((p) => [p.team, p.runAt.toISOString()])).toEqual([
      ['payments', '2026-10-05T07:00:00.000Z'],
      ['web', '2026-10-05T13:00:00.000Z'],
    ]);
    // The catch-up jobs wait no longer: the worker posts both.
    for (
      let i = 0;
      i < 200 &&
      (await db.prisma.digestRun.count({
        where: { state: 'posted', weekStart: new Date('2026-10-05T00:00:00Z') },
      })) < 2;
      i++
    )
      await new Promise((r) => setTimeout(r, 50));
    expect(
      await db.prisma.digestRun.count({
        where: { state: 'posted', weekStart: new Date('2026-10-05T00:00:00Z') },
      }),
    ).toBe(2);
    // A digest missed by more than a day is not caught up (the next one runs on schedule).
    await queue.queue('maintenance').obliterate({ force: true });
    const late = await scheduleDigests(queue, policy, { repos, now: new Date('2026-10-09T10:00:00Z') });
    expect(late.filter((p) => p.catchUp)).toEqual([]);

    // The payments team moves its digest to Tuesday 10:00: the Monday job goes.
    policy = policyWith([
      {
        name: 'payments',
        slack: { channels: [CH.payments] },
        digest: { ...BERLIN_MON_9, weekday: 'tue', time: '10:00' },
      },
      { name: 'web', slack: { channels: [CH.web] }, digest: { ...NEW_YORK_MON_9, enabled: false } },
    ]);
    clock = new Date('2026-10-07T10:00:00Z');
    await scheduleDigests(queue, policy, { repos, now: clock });
    const delayed = await delayedDigests();
    expect(delayed.map((j) => [j.team, j.runAt])).toEqual([['payments', '2026-10-13T08:00:00.000Z']]);
  });
});
