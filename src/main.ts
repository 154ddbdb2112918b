/**
 * Wiring of the long-running processes: `patchbot serve` (HTTP: Slack events, health, readiness,
 * metrics; in-process job workers unless told otherwise) and `patchbot worker` (job workers and
 * the recurring schedules). config -> logger -> database -> Redis + queues -> chat platform ->
 * handlers -> HTTP server -> workers; `stop()` takes them down in the reverse order.
 */
import { buildCabGate, chatThreadLinks, createCabHold, type ItsmDeps } from './integrations/itsm/index.js';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChatPlatform } from './bot/chat-platform.js';
import { createChatHandlers, answerQueuedCommand } from './bot/handlers/index.js';
import type { ChatHandlers } from './bot/handlers.js';
import {
  createSlackApp,
  respondVia,
  slackGroupMembers,
  SlackPoster,
  type SlackEdge,
} from './bot/slack/index.js';
import {
  bearerToken,
  createTeamsEdge,
  entraGroupMembers,
  TEAMS_MESSAGES_PATH,
  type TeamsEdge,
} from './bot/teams/index.js';
import type { Config } from './config/index.js';
import { PatchbotError } from './core/errors.js';
import { feedAges, staleNotice } from './core/freshness/feeds.js';
import {
  createRepositories,
  installationId,
  openDatabase,
  pendingMigrations,
  type Database,
  type Repositories,
} from './db/index.js';
import { Metrics } from './http/metrics.js';
import { createRequestListener, listen, type RunningServer } from './http/server.js';
import { connectRedis } from './jobs/connection.js';
import { Jobs } from './jobs/definitions.js';
import { createDigestJob, scheduleDigests } from './jobs/digest.js';
import { createJobHandlers, scheduleRecurring } from './jobs/handlers.js';
import { createJobQueue, queueStats, type JobQueue } from './jobs/queue.js';
import { UnrecoverableError } from 'bullmq';
import { resolveQueuePrefix } from './jobs/prefix.js';
import { startJobRunner, type JobRunner } from './jobs/worker.js';
import { deploymentServices, type DeploymentServices } from './jobs/deployments/wiring.js';
import { createEventDispatcher } from './jobs/events/dispatcher.js';
import { buildEventSinks } from './integrations/sinks.js';
import type { ShutdownSignal } from './usecases/deployments/types.js';
import { createApprovals, type Approvals } from './usecases/approvals/index.js';
import { approverMentions } from './usecases/deployments/chat.js';
import { syncDestinations } from './usecases/destinations.js';
import { syncPolicyHosts } from './usecases/hosts.js';
import { notifyNewlyRelevant, type NotifyResult } from './usecases/notify.js';
import { createDigestCommand } from './usecases/digest-command.js';
import { createRoleCheck } from './usecases/roles.js';
import {
  createLinkCommand,
  createTeamsConversationStore,
  remapTeamsDestinations,
} from './usecases/teams-installations.js';

export interface CoreOptions {
  /** Apply pending migrations (otherwise pending ones refuse the start). */
  migrate?: boolean;
  /** Base of relative paths (embedded database, feed files). */
  cwd?: string;
  now?: () => Date;
}

export interface ServeOptions extends CoreOptions {
  /** Default: the PORT environment variable (3000). */
  port?: number;
  host?: string;
  /** Run job workers in this process (default true). */
  worker?: boolean;
}

export interface RunningApp {
  /** The HTTP port (serve). */
  port?: number;
  repos: Repositories;
  /**
   * Stops everything; safe to call twice. A process running workers first drains: it claims no new
   * host, lets the hosts it is working on finish for up to PATCHBOT_SHUTDOWN_GRACE, hands the rest
   * back to another worker (their commands keep running on the hosts), then closes.
   */
  stop(): Promise<void>;
  /** Ends the grace period now: the hosts still running are handed back (a second signal). */
  handBack(): void;
}

/** The drain of a stopping process, as the deployment engine sees it. */
function createShutdown(): ShutdownSignal & { begin(): void; handBackNow(): void } {
  let draining = false;
  const controller = new AbortController();
  return {
    draining: () => draining,
    handBack: controller.signal,
    begin() {
      draining = true;
    },
    handBackNow() {
      draining = true;
      if (!controller.signal.aborted) controller.abort();
    },
  };
}

/** Closes the job runner after a drain of at most `graceMs`. */
async function drainRunner(
  runner: JobRunner,
  shutdown: ReturnType<typeof createShutdown>,
  graceMs: number,
  logger: Logger,
): Promise<void> {
  shutdown.begin();
  logger.info({ graceMs }, 'draining: no new hosts; running hosts may finish within the grace period');
  const timer = setTimeout(() => {
    logger.warn('grace period over: handing the hosts still running back to another worker');
    shutdown.handBackNow();
  }, graceMs);
  timer.unref();
  try {
    await runner.close();
  } finally {
    clearTimeout(timer);
  }
}

/** Things to close, last opened first. */
/**
 * Outbound events (webhooks and the other sinks of the policy): fanned out and delivered by this
 * process until it stops. A sink whose configuration is incomplete (a secret not set) refuses the start.
 */
function startEvents(
  config: Config,
  logger: Logger,
  repos: Repositories,
  itsm: ItsmDeps,
  closer: Closer,
): void {
  const sinks = buildEventSinks(config.policy, config.secret, {
    logger,
    itsm: { deps: itsm, env: config.itsmEnv ?? {} },
  });
  const dispatcher = createEventDispatcher({ outbox: repos.outbox, events: repos.events, sinks, logger });
  dispatcher.start();
  closer.add('events', () => dispatcher.stop());
  logger.info({ sinks: dispatcher.sinks }, 'event sinks ready');
}

class Closer {
  private readonly steps: { name: string; fn: () => Promise<void> }[] = [];
  private closing?: Promise<void>;
  constructor(private readonly log: Logger) {}
  add(name: string, fn: () => Promise<void>): void {
    this.steps.push({ name, fn });
  }
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.fn();
          this.log.debug({ step: step.name }, 'closed');
        } catch (err) {
          this.log.warn({ err, step: step.name }, 'closing failed');
        }
      }
    })();
    return this.closing;
  }
}

async function openCore(config: Config, logger: Logger, options: CoreOptions, closer: Closer) {
  const db: Database = await openDatabase({
    url: config.env.databaseUrl,
    dataDir: path.resolve(options.cwd ?? process.cwd(), config.env.dataDir, 'db'),
    logger,
  });
  closer.add('database', () => db.close());
  if (db.kind === 'embedded' || options.migrate) {
    await db.migrate();
  } else {
    const pending = await pendingMigrations(db);
    if (pending.length > 0)
      throw new PatchbotError(
        'DATABASE',
        `${db.description} has ${pending.length} pending migration(s) (${pending.join(', ')}): ` +
          'run `patchbot db migrate` first, or start with --migrate',
      );
  }
  const repos = createRepositories(db);
  const queuePrefix = await resolveQueuePrefix(config.env.queuePrefix, () => installationId(db));
  logger.info(
    {
      database: db.description,
      queuePrefix,
      queuePrefixFrom: config.env.queuePrefix ? 'PATCHBOT_QUEUE_PREFIX' : 'installation id',
    },
    `database: ${db.description}; queues: ${queuePrefix}`,
  );
  const now = options.now ?? (() => new Date());
  // The policy file is the source of its hosts, teams and channels. Without one (built-in
  // defaults), the hosts an earlier file defined are kept: a missing file is not an empty one.
  if (config.policySource === 'file') {
    const hosts = await syncPolicyHosts(config.policy, repos, {
      actor: { id: 'patchbot', display: 'policy file', surface: 'system' },
      policyFile: config.policyPath,
    });
    if (hosts.added.length + hosts.updated.length + hosts.restored.length + hosts.retired.length > 0)
      logger.info(
        {
          policyFile: config.policyPath,
          added: hosts.added,
          updated: hosts.updated.map((u) => u.name),
          restored: hosts.restored,
          retired: hosts.retired,
        },
        'policy hosts synced',
      );
  } else {
    const kept = await repos.hosts.list({ source: 'policy' });
    if (kept.length > 0)
      logger.warn(
        { policyFile: config.policyPath, hosts: kept.length },
        'no policy file is in use; keeping the hosts an earlier policy file defined',
      );
  }
  const teams = await syncDestinations(config.policy, repos, now());
  if (teams.destinationsAdded.length + teams.destinationsRemoved.length > 0)
    logger.info(
      { added: teams.destinationsAdded, removed: teams.destinationsRemoved },
      'chat destinations synced',
    );

  // Workers block on one connection (they wait out an outage); everything that adds or reads jobs
  // uses another that fails at once with a clear error while Redis is down.
  const redis: Redis = await connectRedis(config.env.redisUrl, { role: 'worker' });
  closer.add('redis', async () => {
    await redis.quit().catch(() => redis.disconnect());
  });
  const producer: Redis = await connectRedis(config.env.redisUrl, { role: 'producer' });
  closer.add('redis (producer)', async () => {
    await producer.quit().catch(() => producer.disconnect());
  });
  let down = false;
  const onError = (err: Error): void => {
    if (!down) logger.warn({ err: err.message }, 'Redis connection problem; commands fail until it is back');
    down = true;
  };
  redis.on('error', onError);
  producer.on('error', onError);
  // What to put in place again when Redis comes back (it may have lost its data: the recurring
  // schedules, among them the reconciler that re-creates the deployments' jobs from PostgreSQL).
  const whenBack: (() => Promise<void>)[] = [];
  producer.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('Redis is back');
    for (const fn of whenBack) {
      fn().catch((err: unknown) => logger.warn({ err }, 'could not put the schedules back in Redis'));
    }
  });
  const queue: JobQueue = createJobQueue(producer, { prefix: queuePrefix });
  closer.add('queues', () => queue.close());
  return {
    db,
    repos,
    redis,
    producer,
    queue,
    queuePrefix,
    now,
    whenRedisBack: (fn: () => Promise<void>) => whenBack.push(fn),
  };
}

async function openSlack(
  config: Config,
  logger: Logger,
  handlers: ChatHandlers,
): Promise<{ edge: SlackEdge; platform: ChatPlatform } | undefined> {
  const slack = config.env.slack;
  if (!slack) {
    logger.warn('SLACK_BOT_TOKEN is not set: no Slack app; nothing will be posted');
    return undefined;
  }
  const edge = await createSlackApp({
    token: slack.botToken,
    ...(slack.signingSecret === undefined ? {} : { signingSecret: slack.signingSecret }),
    ...(slack.appToken === undefined ? {} : { appToken: slack.appToken }),
    ...(slack.apiUrl === undefined ? {} : { apiUrl: slack.apiUrl }),
    logger,
    handlers,
  });
  return { edge, platform: new SlackPoster({ client: edge.client, logger }) };
}

/**
 * The Teams edge (POST /api/messages) and its poster when TEAMS_APP_ID is set. The conversations
 * the bot was installed in are mapped to teams again by the current policy file first.
 */
async function openTeams(
  config: Config,
  logger: Logger,
  core: { repos: Repositories; now: () => Date },
  handlers: ChatHandlers,
  approvals: Approvals,
): Promise<TeamsEdge | undefined> {
  const teams = config.env.msteams;
  if (!teams) return undefined;
  const remapped = await remapTeamsDestinations(core.repos, config.policy);
  if (remapped.length > 0)
    logger.info({ remapped }, 'Teams conversations mapped to teams by the policy file');
  return createTeamsEdge({
    appId: teams.appId,
    ...(teams.appPassword === undefined ? {} : { appPassword: teams.appPassword }),
    ...(teams.tenantId === undefined ? {} : { tenantId: teams.tenantId }),
    ...(teams.openIdMetadataUrl === undefined ? {} : { openIdMetadataUrl: teams.openIdMetadataUrl }),
    allowUnauthenticated: teams.devNoAuth,
    logger,
    handlers,
    cardFor: (changeId) => approvals.campaignView(changeId, core.now()),
    conversations: createTeamsConversationStore(core.repos, config.policy, core.now),
    now: core.now,
  });
}

/** The chat platforms this process posts to (filled in once their edges are up). */
interface ChatPlatforms {
  list: ChatPlatform[];
  /** Slack user group members (`S…`; approval rules and roles naming groups). */
  slackGroups?: (groupId: string) => Promise<readonly string[]>;
  /** Entra group members (GUIDs), through Microsoft Graph. */
  entraGroups?: (groupId: string) => Promise<readonly string[]>;
  /** Members of a group of either platform, by the form of its id. */
  groupMembers?: (groupId: string) => Promise<readonly string[]>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entra groups the policy file names (roles, approvers). */
function entraGroupsNamed(config: Config): string[] {
  const p = config.policy;
  return [
    ...p.teams.flatMap((t) => Object.values(t.approvers).flatMap((a) => a.entraGroups)),
    ...Object.values(p.roles).flatMap((r) => r.entraGroups),
  ];
}

function approvalsFor(
  config: Config,
  logger: Logger,
  core: { repos: Repositories; now: () => Date },
  chat: ChatPlatforms,
  deployments: () => DeploymentServices | undefined,
): Approvals {
  return createApprovals({
    repos: core.repos,
    policy: config.policy,
    now: core.now,
    logger,
    platforms: () => chat.list,
    groupMembers: (groupId) => (chat.groupMembers ? chat.groupMembers(groupId) : Promise.resolve([])),
    deployments: () => deployments()?.port,
  });
}

/** Staged deployments: the engine over BullMQ and SSH, reporting into the campaign threads. */
function deploymentsFor(
  config: Config,
  logger: Logger,
  core: { repos: Repositories; producer: Redis; queuePrefix: string; now: () => Date },
  approvals: Approvals,
  closer: Closer,
  shutdown: ShutdownSignal,
  metrics: Metrics,
): DeploymentServices {
  // approval.itsm: required or only: an approved change also waits for the CAB in ServiceNow
  const gate = config.policy.approval.itsm !== 'off' ? { gate: createCabHold(core.repos.itsmLinks) } : {};
  const deployments = deploymentServices({
    ...gate,
    onCommand: (o) => metrics.observeCommand(o),
    config,
    repos: core.repos,
    connection: core.producer,
    shutdown,
    prefix: core.queuePrefix,
    now: core.now,
    logger,
    messenger: () => approvals.messenger,
    approvers: async (changeId) => approverMentions(await approvals.approversOf(changeId)),
  });
  closer.add('deployments', () => deployments.close());
  return deployments;
}

/**
 * What the ITSM sinks and the CAB gate work with: the change, its deployment, its ITSM records,
 * the link to its chat thread (the Slack permalink, else the Teams deep link) and the campaign
 * message to refresh once a record exists. startEvents hands them to the event sinks.
 */
function itsmDepsFor(
  config: Config,
  logger: Logger,
  core: { repos: Repositories },
  approvals: Approvals,
  chat: ChatPlatforms,
): ItsmDeps {
  const tenantId = config.env.msteams?.tenantId;
  return {
    changes: core.repos.changes,
    deployments: core.repos.deployments,
    links: core.repos.itsmLinks,
    audit: core.repos.audit,
    logger: logger.child({ name: 'itsm' }),
    threadUrl: (changeId) => {
      const slack = chat.list.find((p): p is SlackPoster => p instanceof SlackPoster);
      return chatThreadLinks({
        changes: core.repos.changes,
        ...(slack ? { slackPermalink: (ref) => slack.permalink(ref) } : {}),
        ...(tenantId ? { teamsTenantId: tenantId } : {}),
      })(changeId);
    },
    refresh: (changeId) => approvals.messenger.refresh(changeId),
  };
}

/** The use cases the jobs and handlers share, over one process's connections. */
function services(
  config: Config,
  logger: Logger,
  core: { repos: Repositories; queue: JobQueue; now: () => Date },
  metrics: Metrics,
  approvals: Approvals,
  chat: ChatPlatforms,
) {
  const statusDeps = { repos: core.repos, policy: config.policy, now: core.now, logger };
  const itsm = itsmDepsFor(config, logger, core, approvals, chat);
  // the CAB gate's poller (approval.itsm: required or only); its decisions reach the change's thread
  const cab = buildCabGate(config.policy, config.itsmEnv ?? {}, itsm, {
    release: (changeId, record) => approvals.cabApproved(changeId, record),
    rejected: (changeId, record) => approvals.cabRejected(changeId, record),
  });
  const notify = async (): Promise<NotifyResult> => {
    await approvals.sweep();
    const results: NotifyResult[] = [];
    for (const platform of chat.list.length > 0 ? chat.list : [undefined]) {
      results.push(
        await notifyNewlyRelevant({
          repos: core.repos,
          campaigns: approvals.campaigns,
          campaignView: approvals.campaignView,
          policy: config.policy,
          platform,
          now: core.now(),
          logger,
          onPost: (kind) => metrics.posts.inc({ kind }),
        }),
      );
    }
    return mergeNotifyResults(results);
  };
  const apiUrl = config.env.slack?.apiUrl;
  const jobHandlers = createJobHandlers({
    config,
    repos: core.repos,
    logger,
    notify,
    digest: createDigestJob({
      repos: core.repos,
      policy: config.policy,
      platforms: () => chat.list,
      queue: core.queue,
      now: core.now,
      logger,
    }),
    ...(cab ? { cab: () => cab.poll() } : {}),
    answerCommand: (text) => answerQueuedCommand(statusDeps, text),
    respondVia: (url) => respondVia(url, apiUrl === undefined ? {} : { apiUrl }),
    onCommand: (o) => metrics.observeCommand(o),
  });
  return { statusDeps, notify, jobHandlers, itsm };
}

/** One result for a notification run over several platforms. */
function mergeNotifyResults(results: readonly NotifyResult[]): NotifyResult {
  return {
    ran: results.some((r) => r.ran),
    findingsNotified: results.reduce((n, r) => n + r.findingsNotified, 0),
    teams: results.flatMap((r) => r.teams),
    withoutTeam: Math.max(0, ...results.map((r) => r.withoutTeam)),
  };
}

function startRunner(
  logger: Logger,
  redis: Redis,
  handlers: ReturnType<typeof createJobHandlers>,
  metrics: Metrics,
  prefix: string,
  deploymentConcurrency?: number,
): JobRunner {
  const runner = startJobRunner({
    connection: redis,
    handlers,
    logger,
    prefix,
    ...(deploymentConcurrency === undefined ? {} : { concurrency: { deployments: deploymentConcurrency } }),
  });
  for (const w of runner.workers) {
    w.on('completed', (job) => metrics.jobs.inc({ job: job.name, outcome: 'completed' }));
    w.on('failed', (job, err) => {
      const name = job?.name ?? 'unknown';
      metrics.jobs.inc({ job: name, outcome: 'failed' });
      const retried =
        job !== undefined &&
        !(err instanceof UnrecoverableError) &&
        job.attemptsMade < (job.opts.attempts ?? 1);
      metrics.jobFailures.inc({ queue: w.name, job: name, retried: retried ? 'true' : 'false' });
    });
  }
  return runner;
}

/** Everything both processes run on: connections, approvals, deployments and the job handlers. */
/**
 * The job workers of this process: outbound events to their sinks, and the job runner (feeds,
 * inventory, announcements, deployments, digests), drained on stop.
 */
function startWorkers(
  config: Config,
  logger: Logger,
  opened: Awaited<ReturnType<typeof openServices>>,
  closer: Closer,
): void {
  const { core, metrics, deployments, svc, shutdown } = opened;
  startEvents(config, logger, core.repos, svc.itsm, closer);
  const jobHandlers = deployments.register(svc.jobHandlers);
  const runner = startRunner(
    logger,
    core.redis,
    jobHandlers,
    metrics,
    core.queuePrefix,
    deployments.concurrency,
  );
  closer.add('workers', () => drainRunner(runner, shutdown, config.env.shutdownGraceMs, logger));
}

async function openServices(
  config: Config,
  logger: Logger,
  options: CoreOptions,
  closer: Closer,
  metrics: (repos: Repositories, queue: JobQueue) => Metrics,
) {
  const core = await openCore(config, logger, options, closer);
  const m = metrics(core.repos, core.queue);
  const chat: ChatPlatforms = { list: [] };
  const late: { deployments?: DeploymentServices } = {};
  const shutdown = createShutdown();
  const approvals = approvalsFor(config, logger, core, chat, () => late.deployments);
  const deployments = deploymentsFor(config, logger, core, approvals, closer, shutdown, m);
  late.deployments = deployments;
  const svc = services(config, logger, core, m, approvals, chat);
  return { core, metrics: m, chat, approvals, deployments, svc, shutdown };
}

/** The chat edges (each only when configured); their posters join `chat.list`. */
async function openChat(
  config: Config,
  logger: Logger,
  opened: Awaited<ReturnType<typeof openServices>>,
  handlers: ChatHandlers,
  closer: Closer,
) {
  const { core, chat, approvals } = opened;
  const slack = await openSlack(config, logger, handlers);
  if (slack) {
    chat.list.push(slack.platform);
    chat.slackGroups = slackGroupMembers(slack.edge.client);
  }
  const teams = await openTeams(config, logger, core, handlers, approvals);
  if (teams) {
    chat.list.push(teams.poster);
    closer.add('teams', () => teams.stop());
  }
  const ms = config.env.msteams;
  if (ms?.tenantId !== undefined) {
    const auth = {
      appId: ms.appId,
      ...(ms.appPassword === undefined ? {} : { appPassword: ms.appPassword }),
      tenantId: ms.tenantId,
    };
    const audience = new URL(ms.graphUrl).origin;
    chat.entraGroups = entraGroupMembers({
      token: () => bearerToken(auth, audience, ms.tenantId as string),
      graphUrl: ms.graphUrl,
    });
  } else if (entraGroupsNamed(config).length > 0) {
    logger.warn(
      'the policy file names Entra groups (entraGroups), but their members can only be read for a single-tenant Teams bot (TEAMS_APP_ID with TEAMS_TENANT_ID): nobody counts as their member',
    );
  }
  chat.groupMembers = (groupId) => {
    const lookup = GUID.test(groupId) ? chat.entraGroups : chat.slackGroups;
    return lookup ? lookup(groupId) : Promise.resolve([]);
  };
  return { slack, teams };
}

/**
 * The metrics of a long-running process: what it does (chat, jobs, HTTP, SSH) and the install's
 * state read when scraped (findings, feeds, deployments, queues). docs/metrics.md lists them.
 */
function processMetrics(config: Config, repos: Repositories, queue: JobQueue): Metrics {
  return new Metrics({
    openByBand: () => repos.status.openByBand(),
    feedAges: async () =>
      feedAges(await repos.advisories.feedFreshness(), config.policy.feeds.maxAge, new Date()),
    deploymentStates: () => repos.status.deploymentStates(),
    hostRunStates: () => repos.status.activeHostRunStates(),
    queues: () => queueStats(queue),
  });
}

/** `patchbot serve`: the HTTP server (and job workers unless `worker: false`). */
export async function startServe(
  config: Config,
  logger: Logger,
  options: ServeOptions = {},
): Promise<RunningApp> {
  const closer = new Closer(logger);
  try {
    const opened = await openServices(config, logger, options, closer, (repos, queue) =>
      processMetrics(config, repos, queue),
    );
    const { core, metrics, approvals, deployments, svc, chat, shutdown } = opened;
    const groupMembers = (groupId: string) =>
      chat.groupMembers ? chat.groupMembers(groupId) : Promise.resolve([]);
    const handlers = createChatHandlers({
      approvals: approvals.handlers,
      roles: createRoleCheck({ policy: config.policy, groupMembers, logger }),
      digest: createDigestCommand({
        repos: core.repos,
        policy: config.policy,
        platforms: () => chat.list,
        now: core.now,
        logger,
      }),
      link: createLinkCommand({ repos: core.repos, policy: config.policy, now: core.now }),
      status: {
        ...svc.statusDeps,
        enqueue: async (cmd) => {
          await core.queue.enqueue(Jobs.chatCommand, {
            text: cmd.text,
            user: cmd.user,
            channel: cmd.channel,
            responseUrl: cmd.responseUrl,
          });
        },
      },
      metrics: {
        request: (kind, name) => metrics.chatRequests.inc({ kind, name }),
        decision: (kind, outcome) => metrics.decisions.inc({ kind, outcome }),
      },
    });
    const { slack, teams } = await openChat(config, logger, opened, handlers, closer);

    const listener = createRequestListener({
      metrics,
      logger,
      checks: {
        database: () => core.repos.status.ping(),
        redis: async () => {
          if (core.redis.status !== 'ready') throw new Error(`connection ${core.redis.status}`);
          await core.redis.ping();
        },
      },
      readinessDetail: async () => {
        const feeds = feedAges(
          await core.repos.advisories.feedFreshness(),
          config.policy.feeds.maxAge,
          new Date(),
        );
        return { feeds, notice: staleNotice(feeds) ?? null };
      },
      ...(slack?.edge.requestListener ? { fallback: slack.edge.requestListener } : {}),
      ...(teams ? { routes: { [TEAMS_MESSAGES_PATH]: teams.requestListener } } : {}),
    });
    const server: RunningServer = await listen(listener, options.port ?? config.env.port, options.host);
    closer.add('http', () => server.close());
    if (slack?.edge.mode === 'socket') {
      await slack.edge.start();
      closer.add('slack', () => slack.edge.stop());
    }
    if (options.worker !== false) {
      startWorkers(config, logger, opened, closer);
      const every = config.policy.deployments.reconcileInterval;
      await deployments.scheduleReconciler(core.queue, every);
      core.whenRedisBack(() => deployments.scheduleReconciler(core.queue, every));
    }
    logger.info(
      {
        port: server.port,
        slack: slack?.edge.mode ?? 'off',
        teams: teams ? TEAMS_MESSAGES_PATH : 'off',
        workers: options.worker !== false,
      },
      'patchbot serve is up',
    );
    return {
      port: server.port,
      repos: core.repos,
      stop: () => closer.close(),
      handBack: () => shutdown.handBackNow(),
    };
  } catch (err) {
    await closer.close();
    throw err;
  }
}

export interface WorkerOptions extends CoreOptions {
  /**
   * Serve GET /metrics, /healthz and /readyz on this port (0: any free port); without it the
   * worker listens on nothing.
   */
  metricsPort?: number;
  /** Address the metrics port listens on (default 0.0.0.0). */
  metricsHost?: string;
}

/** `patchbot worker`: job workers and the recurring feeds sync and inventory collection. */
export async function startWorker(
  config: Config,
  logger: Logger,
  options: WorkerOptions = {},
): Promise<RunningApp> {
  const closer = new Closer(logger);
  try {
    const opened = await openServices(config, logger, options, closer, (repos, queue) =>
      options.metricsPort === undefined
        ? new Metrics({ processMetrics: false })
        : processMetrics(config, repos, queue),
    );
    const { core, metrics, approvals, deployments, svc, shutdown } = opened;
    // The worker only posts: the chat edges are built for their posters and never listen.
    await openChat(
      config,
      logger,
      opened,
      createChatHandlers({ approvals: approvals.handlers, status: svc.statusDeps }),
      closer,
    );
    startWorkers(config, logger, opened, closer);
    const schedules = async (): Promise<void> => {
      await scheduleRecurring(core.queue, config.policy);
      await deployments.scheduleReconciler(core.queue, config.policy.deployments.reconcileInterval);
      await scheduleDigests(core.queue, config.policy, { repos: core.repos, now: core.now(), logger });
    };
    await schedules();
    core.whenRedisBack(schedules);
    let port: number | undefined;
    if (options.metricsPort !== undefined) {
      const server = await listen(
        createRequestListener({
          metrics,
          logger,
          checks: {
            database: () => core.repos.status.ping(),
            redis: async () => {
              if (core.redis.status !== 'ready') throw new Error(`connection ${core.redis.status}`);
              await core.redis.ping();
            },
          },
        }),
        options.metricsPort,
        options.metricsHost,
      );
      closer.add('http', () => server.close());
      port = server.port;
    }
    logger.info(
      {
        feedsEveryMs: config.policy.feeds.syncInterval,
        inventoryEveryMs: config.policy.inventory.collectInterval,
        reconcileEveryMs: config.policy.deployments.reconcileInterval,
        ...(port === undefined ? {} : { metricsPort: port }),
      },
      'patchbot worker is up',
    );
    return {
      ...(port === undefined ? {} : { port }),
      repos: core.repos,
      stop: () => closer.close(),
      handBack: () => shutdown.handBackNow(),
    };
  } catch (err) {
    await closer.close();
    throw err;
  }
}

/** Resolves on the first SIGTERM or SIGINT (the listeners are removed afterwards). */
export function shutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
