/**
 * Prometheus metrics (`GET /metrics`), documented name by name in docs/metrics.md ("Prometheus
 * metrics"; a test keeps the two in step):
 *
 * - what this process did: chat requests, decisions, posts, jobs finished and failed, HTTP request
 *   latency, SSH command durations;
 * - the state of the install, read when scraped (one query each): open findings by band, each
 *   advisory feed's age, deployments and the host runs of unfinished ones by state, and every
 *   queue's depth and the age of its oldest waiting job (from Redis).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FeedAge } from '../core/freshness/feeds.js';
import type { Severity } from '../core/model.js';

export interface MetricsOptions {
  /** Open findings per band; called on each scrape. */
  openByBand?: () => Promise<Record<Severity, number>>;
  /** Every feed's age; called on each scrape. */
  feedAges?: () => Promise<FeedAge[]>;
  /** The clock the ages are counted on (default: the system clock). */
  now?: () => Date;
  /** Process metrics (CPU, memory, event loop lag); default true. */
  processMetrics?: boolean;
  /** Deployments by state; called on each scrape. */
  deploymentStates?: () => Promise<Record<string, number>>;
  /** Host runs of unfinished deployments by state; called on each scrape. */
  hostRunStates?: () => Promise<Record<string, number>>;
  /** Every queue's jobs by state and the age of its oldest waiting job; called on each scrape. */
  queues?: () => Promise<QueueStats[]>;
}

/** One queue as a scrape sees it. */
export interface QueueStats {
  queue: string;
  /** Jobs by BullMQ state (waiting, active, delayed, prioritized, waiting-children, failed). */
  counts: Record<string, number>;
  /** Seconds the oldest job ready to run has waited (0 when none waits). */
  oldestWaitingAgeSeconds: number;
}

/** States of a deployment (the database's DeploymentState), each exported even at 0. */
export const DEPLOYMENT_STATE_LABELS = [
  'planned',
  'waiting_window',
  'running',
  'soaking',
  'paused',
  'halted',
  'rolling_back',
  'rolled_back',
  'rollback_failed',
  'completed',
  'failed',
  'aborted',
] as const;

/** States of a host run (the database's HostRunState), each exported even at 0. */
export const HOST_RUN_STATE_LABELS = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'skipped',
  'rolling_back',
  'rolled_back',
  'rollback_failed',
  'unknown',
] as const;

/** Queue job states exported by patchbot_queue_jobs. */
export const QUEUE_STATE_LABELS = [
  'waiting',
  'prioritized',
  'active',
  'delayed',
  'waiting-children',
  'failed',
] as const;

/** The routes `patchbot_http_request_duration_seconds` names; any other path is `other`. */
export const HTTP_ROUTES = ['/healthz', '/readyz', '/metrics', '/slack/events', '/api/messages'] as const;

export function routeLabel(path: string): string {
  return (HTTP_ROUTES as readonly string[]).includes(path) ? path : 'other';
}

/** One command run on a host over SSH, as the executor saw it (src/executors/observed.ts). */
export interface CommandObservation {
  verb: string;
  outcome: string;
  seconds: number;
}

export class Metrics {
  readonly registry = new Registry();
  /** Chat requests handed to patchbot: kind = command | action | submission, name = what. */
  readonly chatRequests: Counter<'kind' | 'name'>;
  /** Decisions asked for through chat (buttons, dialogs, commands), by kind and outcome. */
  readonly decisions: Counter<'kind' | 'outcome'>;
  /** Messages posted by notifications: campaign | update | escalation | summary | thread. */
  readonly posts: Counter<'kind'>;
  /** Jobs finished, by job name and outcome (completed | failed). */
  readonly jobs: Counter<'job' | 'outcome'>;
  readonly openFindings: Gauge<'band'>;
  readonly feedAge: Gauge<'source'>;
  readonly feedStale: Gauge<'source'>;
  /** Failed job attempts, by queue, job name and whether it will be retried. */
  readonly jobFailures: Counter<'queue' | 'job' | 'retried'>;
  readonly httpDuration: Histogram<'route' | 'method' | 'status'>;
  readonly sshDuration: Histogram<'verb' | 'outcome'>;
  readonly deployments: Gauge<'state'>;
  readonly hostRuns: Gauge<'state'>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly queueOldestAge: Gauge<'queue'>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.chatRequests = new Counter({
      name: 'patchbot_chat_requests_total',
      help: 'Chat requests (slash commands, buttons, dialogs) handled',
      labelNames: ['kind', 'name'],
      registers,
    });
    this.decisions = new Counter({
      name: 'patchbot_decisions_total',
      help: 'Decisions asked for in chat (approve, reject, defer, accept risk), by outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.posts = new Counter({
      name: 'patchbot_notification_posts_total',
      help: 'Messages posted or edited by notifications',
      labelNames: ['kind'],
      registers,
    });
    this.jobs = new Counter({
      name: 'patchbot_jobs_total',
      help: 'Background jobs finished, by outcome',
      labelNames: ['job', 'outcome'],
      registers,
    });
    const openByBand = options.openByBand;
    this.openFindings = new Gauge({
      name: 'patchbot_open_findings',
      help: 'Open findings by risk band',
      labelNames: ['band'],
      registers,
      async collect() {
        if (!openByBand) return;
        const counts = await openByBand();
        for (const [band, n] of Object.entries(counts)) this.set({ band }, n);
      },
    });
    const feedAges = options.feedAges;
    const now = options.now ?? (() => new Date());
    // one read per scrape serves both feed gauges
    let reading: Promise<FeedAge[]> | undefined;
    const ages = async (): Promise<FeedAge[]> => {
      if (!feedAges) return [];
      reading ??= feedAges().finally(() => {
        reading = undefined;
      });
      return reading;
    };
    this.feedAge = new Gauge({
      name: 'patchbot_feed_age_seconds',
      help: 'Age of each advisory feed: seconds since the date of its data (docs/feeds.md)',
      labelNames: ['source'],
      registers,
      async collect() {
        if (!feedAges) return;
        this.reset();
        const t = now().getTime();
        for (const a of await ages())
          this.set({ source: a.source }, Math.max(0, (t - Date.parse(a.asOf)) / 1000));
      },
    });
    this.feedStale = new Gauge({
      name: 'patchbot_feed_stale',
      help: 'Whether each advisory feed is past its feeds.maxAge (1) or not (0)',
      labelNames: ['source'],
      registers,
      async collect() {
        if (!feedAges) return;
        this.reset();
        for (const a of await ages()) this.set({ source: a.source }, a.stale ? 1 : 0);
      },
    });
    this.jobFailures = new Counter({
      name: 'patchbot_job_failures_total',
      help: 'Failed attempts of background jobs in this process, by queue, job and whether the job will be retried',
      labelNames: ['queue', 'job', 'retried'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'patchbot_http_request_duration_seconds',
      help: 'Time from an HTTP request to the end of its response, by route, method and status code',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.sshDuration = new Histogram({
      name: 'patchbot_ssh_command_duration_seconds',
      help: 'Time of one command on a host over SSH (connecting included when it opened the connection), by verb and outcome',
      labelNames: ['verb', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
      registers,
    });
    const states = (read: (() => Promise<Record<string, number>>) | undefined, known: readonly string[]) =>
      async function collect(this: Gauge<'state'>): Promise<void> {
        if (!read) return;
        const counts = await read();
        this.reset();
        for (const state of new Set([...known, ...Object.keys(counts)]))
          this.set({ state }, counts[state] ?? 0);
      };
    this.deployments = new Gauge({
      name: 'patchbot_deployments',
      help: 'Deployments by state',
      labelNames: ['state'],
      registers,
      collect: states(options.deploymentStates, DEPLOYMENT_STATE_LABELS),
    });
    this.hostRuns = new Gauge({
      name: 'patchbot_host_runs',
      help: 'Host runs of the deployments that have not finished, by state',
      labelNames: ['state'],
      registers,
      collect: states(options.hostRunStates, HOST_RUN_STATE_LABELS),
    });
    const queues = options.queues;
    let queueReading: Promise<QueueStats[]> | undefined;
    const queueStats = async (): Promise<QueueStats[]> => {
      if (!queues) return [];
      queueReading ??= queues().finally(() => {
        queueReading = undefined;
      });
      return queueReading;
    };
    this.queueJobs = new Gauge({
      name: 'patchbot_queue_jobs',
      help: 'Jobs in each queue by state (waiting, prioritized, active, delayed, waiting-children, failed)',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        if (!queues) return;
        const stats = await queueStats();
        this.reset();
        for (const q of stats)
          for (const state of QUEUE_STATE_LABELS) this.set({ queue: q.queue, state }, q.counts[state] ?? 0);
      },
    });
    this.queueOldestAge = new Gauge({
      name: 'patchbot_queue_oldest_job_age_seconds',
      help: 'Seconds the oldest job ready to run in each queue has been waiting for a worker (0 when none waits)',
      labelNames: ['queue'],
      registers,
      async collect() {
        if (!queues) return;
        const stats = await queueStats();
        this.reset();
        for (const q of stats) this.set({ queue: q.queue }, q.oldestWaitingAgeSeconds);
      },
    });
    if (options.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'patchbot_' });
  }

  /** Records one command run over SSH. */
  observeCommand(o: CommandObservation): void {
    this.sshDuration.observe({ verb: o.verb, outcome: o.outcome }, o.seconds);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
