/**
 * What each job does: handlers call the use cases. Feeds sync -> re-match the hosts it touched ->
 * announce; inventory collect -> re-match the hosts collected -> announce; a slow slash command ->
 * answer through its response_url. The schedules (`scheduleRecurring`) come from the policy file.
 */
import type { Logger } from 'pino';
import type { Respond } from '../bot/handlers.js';
import { notice, type MessageContent } from '../bot/views/index.js';
import type { Config } from '../config/index.js';
import { PatchbotError, userMessageOf } from '../core/errors.js';
import type { Repositories } from '../db/index.js';
import type { CommandObserver } from '../executors/observed.js';
import { collectHosts } from '../usecases/inventory.js';
import { syncFeedSources } from '../usecases/feeds-sync.js';
import type { NotifyResult } from '../usecases/notify.js';
import { rescanAfterSync, rescanHosts } from '../usecases/rescan.js';
import { Jobs, type JobData } from './definitions.js';
import type { JobQueue } from './queue.js';
import { JobHandlers } from './worker.js';

export interface JobHandlerDeps {
  config: Pick<Config, 'policy' | 'policyPath' | 'env'>;
  repos: Repositories;
  logger: Logger;
  /** Announces newly relevant findings (notifyNewlyRelevant with this process's platform). */
  notify: () => Promise<NotifyResult>;
  /** Runs a team's weekly digest (src/jobs/digest.ts createDigestJob); without it the job is not handled. */
  digest?: (data: JobData<typeof Jobs.digest>) => Promise<unknown>;
  /** Reads the CAB approvals that are due (CabGate.poll); without it the job is not handled. */
  cab?: () => Promise<unknown>;
  /** The answer to a queued slash command. */
  answerCommand: (text: string) => Promise<MessageContent>;
  /** A Respond that POSTs to a response_url (which it checks first). */
  respondVia: (responseUrl: string) => Respond;
  /** Base of relative feed paths (default: the process's working directory). */
  cwd?: string;
  now?: () => Date;
  /** Hears of every command run over SSH (the SSH metrics). */
  onCommand?: CommandObserver;
}

export function createJobHandlers(deps: JobHandlerDeps): JobHandlers {
  const now = deps.now ?? (() => new Date());
  const riskDeps = { repos: deps.repos, riskPolicy: deps.config.policy.risk, logger: deps.logger };
  const handlers = new JobHandlers();
  const digest = deps.digest;
  if (digest) handlers.on(Jobs.digest, (data) => digest(data));
  const cab = deps.cab;
  if (cab) handlers.on(Jobs.itsmCab, () => cab());
  return handlers
    .on(Jobs.feedsSync, async (data, { logger }) => {
      const started = now();
      const synced = await syncFeedSources({
        ...(data.sources ? { sources: data.sources } : {}),
        policyFeeds: deps.config.policy.feeds.sources,
        repos: deps.repos,
        logger: logger.child({ name: 'feeds' }),
        ...(deps.cwd ? { cwd: deps.cwd } : {}),
      });
      const touched = synced.totals.new + synced.totals.changed + synced.totals.withdrawn > 0;
      const rescan = touched ? await rescanAfterSync(riskDeps, started) : undefined;
      const notified = await deps.notify();
      return {
        totals: synced.totals,
        rescan: rescan ? { hosts: rescan.hosts, opened: rescan.opened, updated: rescan.updated } : null,
        notified: notified.findingsNotified,
      };
    })
    .on(Jobs.inventoryCollect, async (data, { logger }) => {
      const names = data.hosts ?? (await deps.repos.hosts.list()).map((h) => h.name);
      const inventoryDeps = {
        repos: deps.repos,
        config: deps.config,
        ...(deps.onCommand ? { onCommand: deps.onCommand } : {}),
      };
      const collected = await collectHosts(inventoryDeps, names, {
        actor: { id: 'patchbot', display: 'scheduled inventory', surface: 'system' },
      });
      for (const f of collected.failed)
        logger.warn({ host: f.host, reason: f.error }, 'inventory collection failed');
      const ok = collected.succeeded.map((h) => h.host);
      const rescan = ok.length > 0 ? await rescanHosts(riskDeps, ok) : undefined;
      const notified = await deps.notify();
      return {
        collected: ok.length,
        failed: collected.failed.length,
        opened: rescan?.opened ?? 0,
        notified: notified.findingsNotified,
      };
    })
    .on(Jobs.rescan, async (data) => {
      const rescan = await rescanHosts(riskDeps, data.hosts);
      const notified = await deps.notify();
      return { hosts: rescan.hosts, opened: rescan.opened, notified: notified.findingsNotified };
    })
    .on(Jobs.notify, async () => {
      const r = await deps.notify();
      return { ran: r.ran, findings: r.findingsNotified };
    })
    .on(Jobs.chatCommand, async (data, { logger }) => {
      // Checked before any work: an answer only ever goes to Slack.
      const respond = deps.respondVia(data.responseUrl);
      let content: MessageContent;
      try {
        content = await deps.answerCommand(data.text);
      } catch (err) {
        if (!(err instanceof PatchbotError) || err.transient) throw err;
        logger.info({ code: err.code }, 'command answered with its error');
        content = notice(err.code === 'NOT_FOUND' ? 'warning' : 'error', userMessageOf(err));
      }
      await respond(content);
      return { answered: true };
    });
}

/** Puts the recurring jobs in place (one scheduler per id: several workers agree on one). */
export async function scheduleRecurring(queue: JobQueue, policy: Config['policy']): Promise<void> {
  await queue.repeat('feeds-sync', Jobs.feedsSync, {}, policy.feeds.syncInterval);
  await queue.repeat('inventory-collect', Jobs.inventoryCollect, {}, policy.inventory.collectInterval);
  const sn = policy.itsm.servicenow;
  if (policy.approval.itsm !== 'off' && sn?.enabled) {
    // each record keeps its own backoff (nextPollAt); the job only looks for the ones that are due
    await queue.repeat(
      'itsm-cab',
      Jobs.itsmCab,
      {},
      Math.max(5_000, Math.min(sn.approvalPoll.initial, 60_000)),
    );
  }
}
