/**
 * Every background job patchbot runs: typed data with a zod schema, validated when enqueued and
 * again before a worker runs it (a payload from Redis is untrusted input like any other).
 */
import { z } from 'zod';

export interface JobDefinition<S extends z.ZodType = z.ZodType> {
  /** Job name, also the handler key. */
  name: string;
  /** Queue the job runs on. */
  queue: QueueName;
  schema: S;
  /** Attempts for transient failures (connection refused, timeouts); validation and policy errors never retry. */
  attempts: number;
}

export const QUEUES = ['maintenance', 'chat', 'deployments'] as const;
export type QueueName = (typeof QUEUES)[number];

function define<S extends z.ZodType>(def: JobDefinition<S>): JobDefinition<S> {
  return def;
}

const HostNames = z.array(z.string().min(1).max(253)).max(10_000);

export const Jobs = {
  /** Import advisory feeds (the policy's sources when none are given), then re-match and notify. */
  feedsSync: define({
    name: 'feeds.sync',
    queue: 'maintenance',
    schema: z.strictObject({ sources: z.array(z.string().min(1).max(2_000)).max(100).optional() }),
    attempts: 3,
  }),
  /** Collect the inventory of hosts (all when none are given), then re-match and notify. */
  inventoryCollect: define({
    name: 'inventory.collect',
    queue: 'maintenance',
    schema: z.strictObject({ hosts: HostNames.optional() }),
    attempts: 3,
  }),
  /** Re-match stored inventories against stored advisories and store the findings. */
  rescan: define({
    name: 'findings.rescan',
    queue: 'maintenance',
    schema: z.strictObject({ hosts: HostNames.optional(), reason: z.string().max(200).optional() }),
    attempts: 3,
  }),
  /** Post newly relevant fixes to the owning teams' channels (one run at a time across workers). */
  notify: define({
    name: 'notify',
    queue: 'maintenance',
    schema: z.strictObject({ reason: z.string().max(200).optional() }),
    attempts: 3,
  }),
  /**
   * A team's weekly digest, due at `runAt` (teams[].digest in the policy file). Enqueued delayed,
   * with an id made of team and time, so several workers schedule it once; DigestRun makes it post
   * once per team and week whatever happens.
   */
  digest: define({
    name: 'digest.weekly',
    queue: 'maintenance',
    schema: z.strictObject({
      team: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
      runAt: z.iso.datetime(),
    }),
    attempts: 3,
  }),
  /**
   * The CAB gate (approval.itsm: required or only): read the ServiceNow approvals that are due; an approval
   * hands its change to the deployment scheduler, a rejection rejects it. Recurring.
   */
  itsmCab: define({
    name: 'itsm.cab',
    queue: 'maintenance',
    schema: z.strictObject({}),
    attempts: 1,
  }),
  /**
   * A slash command whose answer may take a while, answered through Slack's response_url (checked
   * against Slack's hosts before anything is sent). The command text is parsed again by the worker.
   */
  chatCommand: define({
    name: 'chat.command',
    queue: 'chat',
    schema: z.strictObject({
      text: z.string().max(4_000),
      user: z.strictObject({
        platform: z.enum(['slack', 'teams']),
        id: z.string().min(1).max(64),
        teamId: z.string().max(64).optional(),
        name: z.string().max(200).optional(),
      }),
      channel: z.string().min(1).max(64),
      responseUrl: z.string().url().max(2_000),
    }),
    attempts: 2,
  }),
} as const;

export type JobName = (typeof Jobs)[keyof typeof Jobs]['name'];
export type JobData<D extends JobDefinition> = z.infer<D['schema']>;
