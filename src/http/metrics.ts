/**
 * Prometheus metrics (`GET /metrics`): counters of chat requests, decisions, posts and jobs, and
 * gauges of open findings by risk band and of each advisory feed's age (read from PostgreSQL when
 * scraped, with one query each).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
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
    if (options.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'patchbot_' });
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
