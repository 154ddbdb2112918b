/**
 * Scheduling of the weekly digests on BullMQ. Each team's next run is computed from its
 * teams[].digest weekday, time and IANA time zone (src/core/metrics/schedule.ts: wall-clock time,
 * DST-correct) and enqueued as a delayed `digest.weekly` job whose id names the team and the
 * instant, so several workers starting at once schedule it once. When the job runs it first
 * schedules the following week's run, then posts the digest; a job that wakes up early (another
 * machine's clock) goes back to sleep until its time.
 *
 * `scheduleDigests` (worker start) also catches up: when this week's time passed less than a day
 * ago and no digest was posted for the week (the worker was down, Redis lost its jobs), it runs
 * now; an older miss is skipped and the next week's runs on schedule. It
 * removes delayed digest jobs that no longer match the policy (time changed, team gone).
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ChatPlatform } from '../bot/chat-platform.js';
import type { Policy, Team } from '../config/policy-schema.js';
import {
  delayUntil,
  nextDigestRun,
  previousDigestRun,
  weekStartOf,
  type DigestTime,
} from '../core/metrics/schedule.js';
import type { Repositories } from '../db/index.js';
import { runDigest, type DigestResult } from '../usecases/digest.js';
import { Jobs, type JobData } from './definitions.js';
import type { JobQueue } from './queue.js';

export type DigestJobData = JobData<typeof Jobs.digest>;

/** A job that wakes up more than this before its time is put back to sleep. */
export const EARLY_TOLERANCE_MS = 60_000;
/** A digest missed by less than this (worker down, Redis lost its jobs) runs as soon as a worker starts. */
export const CATCH_UP_WINDOW_MS = 24 * 3_600_000;

export function digestTime(team: Team): DigestTime {
  return { weekday: team.digest.weekday, time: team.digest.time, timeZone: team.digest.timeZone };
}

/** The job id of a team's digest at `at` (optionally a wake-up generation). */
export function digestJobId(team: string, at: Date, wake = 0): string {
  return `digest-${team}-${at.getTime()}${wake > 0 ? `-w${wake}` : ''}`;
}

async function enqueueAt(queue: JobQueue, team: string, at: Date, now: Date, wake = 0): Promise<string> {
  return queue.enqueue(
    Jobs.digest,
    { team, runAt: at.toISOString() },
    { jobId: digestJobId(team, at, wake), delayMs: delayUntil(at, now) },
  );
}

export interface ScheduledDigest {
  team: string;
  runAt: Date;
  /** True when this week's digest was missed and runs now. */
  catchUp: boolean;
}

/**
 * Puts every enabled team's next digest in the queue (idempotent), runs a missed one for this
 * week now, and drops delayed digest jobs the policy no longer asks for.
 */
export async function scheduleDigests(
  queue: JobQueue,
  policy: Pick<Policy, 'teams'>,
  deps: { repos: Pick<Repositories, 'metrics'>; now: Date; logger?: Logger },
): Promise<ScheduledDigest[]> {
  const planned: ScheduledDigest[] = [];
  const wanted = new Set<string>();
  for (const team of policy.teams) {
    if (!team.digest.enabled) continue;
    const schedule = digestTime(team);
    const next = nextDigestRun(schedule, deps.now);
    await enqueueAt(queue, team.name, next, deps.now);
    wanted.add(`${team.name}|${next.getTime()}`);
    planned.push({ team: team.name, runAt: next, catchUp: false });
    const previous = previousDigestRun(schedule, deps.now);
    const week = weekStartOf(previous, schedule.timeZone);
    const recent = deps.now.getTime() - previous.getTime() < CATCH_UP_WINDOW_MS;
    if (recent && week === weekStartOf(deps.now, schedule.timeZone)) {
      const run = await deps.repos.metrics.digestRun(team.name, week);
      if (run === null || run.state === 'failed') {
        await enqueueAt(queue, team.name, previous, deps.now);
        wanted.add(`${team.name}|${previous.getTime()}`);
        planned.push({ team: team.name, runAt: previous, catchUp: true });
      }
    }
  }
  const delayed = await queue.queue(Jobs.digest.queue).getDelayed();
  for (const job of delayed) {
    if (job.name !== Jobs.digest.name) continue;
    const data = Jobs.digest.schema.safeParse(job.data);
    const key = data.success ? `${data.data.team}|${new Date(data.data.runAt).getTime()}` : '';
    if (wanted.has(key)) continue;
    await job.remove();
    deps.logger?.info({ jobId: job.id }, 'removed a digest job the policy no longer asks for');
  }
  return planned;
}

export interface DigestJobDeps {
  repos: Pick<Repositories, 'metrics' | 'teams' | 'advisories'>;
  policy: Pick<Policy, 'reporting' | 'teams'> & Partial<Pick<Policy, 'feeds' | 'coverage'>>;
  platforms: () => readonly ChatPlatform[];
  queue: JobQueue;
  now: () => Date;
  logger: Logger;
  /** Who claims the digest (default host:pid). */
  workerId?: string;
}

export type DigestJobResult =
  | DigestResult
  | { team: string; outcome: 'rescheduled'; runAt: string }
  | { team: string; outcome: 'skipped'; reason: string };

/** The handler of `digest.weekly`. */
export function createDigestJob(deps: DigestJobDeps): (data: DigestJobData) => Promise<DigestJobResult> {
  const workerId = deps.workerId ?? `${hostname()}:${process.pid}`;
  return async (data) => {
    const now = deps.now();
    const runAt = new Date(data.runAt);
    const team = deps.policy.teams.find((t) => t.name === data.team);
    if (!team) return { team: data.team, outcome: 'skipped', reason: 'the team is not in the policy file' };
    if (!team.digest.enabled)
      return { team: data.team, outcome: 'skipped', reason: 'the team turned its digest off' };
    if (runAt.getTime() - now.getTime() > EARLY_TOLERANCE_MS) {
      // Woke up early (clocks differ between machines): sleep again until the time.
      await enqueueAt(deps.queue, team.name, runAt, now, Math.floor(now.getTime() / 1000) % 1_000_000);
      return { team: team.name, outcome: 'rescheduled', runAt: runAt.toISOString() };
    }
    // The following week first: a digest that keeps failing does not stop the schedule.
    const next = nextDigestRun(digestTime(team), new Date(Math.max(runAt.getTime(), now.getTime())));
    await enqueueAt(deps.queue, team.name, next, now);
    return runDigest(
      {
        repos: deps.repos,
        policy: deps.policy,
        platforms: deps.platforms(),
        now,
        logger: deps.logger,
        claimedBy: workerId,
      },
      team.name,
    );
  };
}
