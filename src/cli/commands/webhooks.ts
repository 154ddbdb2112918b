/**
 * `patchbot webhooks list|failed|retry|test`: the webhooks of the policy file and their deliveries.
 * `list` shows each webhook with its delivery figures (and the figures of every other event sink);
 * `failed` is the dead-letter list (deliveries given up on); `retry` puts dead letters back in
 * line for the workers; `test` sends a signed ping to one webhook and says what it answered.
 */
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import type { Config } from '../../config/index.js';
import type { Webhook } from '../../config/policy-webhooks.js';
import { pingCloudEvent } from '../../core/events/cloudevent.js';
import { NotFoundError, UsageError, userMessageOf } from '../../core/errors.js';
import type { DeadLetter, SinkStats } from '../../db/repositories/event-repository.js';
import { JIRA_SINK } from '../../integrations/itsm/jira/sink.js';
import { SERVICENOW_SINK } from '../../integrations/itsm/servicenow/sink.js';
import { buildWebhookSinks } from '../../integrations/sinks.js';
import { WEBHOOK_SINK_PREFIX, type WebhookSink } from '../../integrations/webhook-sink.js';
import { redactUrl } from '../../logging/redact.js';
import { cliLogger, loadCliConfig, withApp } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { CliExit, writeLine, type CliIo } from '../io.js';

type Format = 'text' | 'json';

const formatOption = () =>
  new Option('--format <format>', 'output format').choices(['text', 'json']).default('text');

const iso = (d: Date | null | undefined): string => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

const sinkOf = (w: Pick<Webhook, 'name'>): string => `${WEBHOOK_SINK_PREFIX}${w.name}`;

function secretState(config: Config, w: Webhook): 'set' | 'not set' | 'too short' {
  const v = config.secret(w.secretEnv);
  if (v === undefined) return 'not set';
  return v.length < 16 ? 'too short' : 'set';
}

const ITSM_SINKS: ReadonlySet<string> = new Set([SERVICENOW_SINK, JIRA_SINK]);

/** A sink as `--sink` names it: an ITSM tool, "webhook:NAME", or a webhook's bare name. */
function sinkNamed(name: string | undefined): string | undefined {
  if (name === undefined || name.includes(':') || ITSM_SINKS.has(name)) return name;
  return `${WEBHOOK_SINK_PREFIX}${name}`;
}

function figures(s: SinkStats | undefined): Omit<SinkStats, 'sink'> {
  if (!s) return { delivered: 0, pending: 0, failed: 0, lastDeliveredAt: null, lastError: null };
  const { sink: _sink, ...rest } = s;
  return rest;
}

function deadLetterJson(d: DeadLetter): unknown {
  return {
    id: d.id,
    sink: d.sink,
    eventId: d.event.id,
    type: d.event.type,
    change: d.event.changeNumber,
    deployment: d.event.deploymentId ?? null,
    time: d.event.time,
    attempts: d.attempts,
    lastError: d.lastError,
    failedAt: d.failedAt,
  };
}

export function registerWebhooks(program: Command, io: CliIo): void {
  const webhooks = program
    .command('webhooks')
    .description(
      'Signed event webhooks: list them with their deliveries, the dead-letter list, retry, test.',
    );

  webhooks
    .command('list')
    .description(
      'The webhooks of the policy file (URL, events, teams, whether the secret is set) and delivery ' +
        'figures of every event sink. Exits 4 when a webhook cannot deliver (its secret is not set).',
    )
    .addOption(formatOption())
    .action(async (o: { format: Format }) => {
      const { config, stats } = await withApp(io, { format: o.format }, async (app) => ({
        config: app.config,
        stats: await app.repos.events.stats(),
      }));
      const bySink = new Map(stats.map((s) => [s.sink, s]));
      const configured = config.policy.webhooks.map((w) => ({
        name: w.name,
        sink: sinkOf(w),
        url: redactUrl(w.url),
        events: w.events,
        teams: w.teams ?? null,
        timeoutMs: w.timeout,
        secretEnv: w.secretEnv,
        secret: secretState(config, w),
        deliveries: figures(bySink.get(sinkOf(w))),
      }));
      const names = new Set(configured.map((c) => c.sink));
      const others = stats.filter((s) => !names.has(s.sink));
      const broken = configured.filter((c) => c.secret !== 'set');
      if (o.format === 'json') {
        writeLine(
          io.stdout,
          JSON.stringify(
            {
              outcome: broken.length > 0 ? 'partial' : 'ok',
              webhooks: configured,
              otherSinks: others,
            },
            null,
            2,
          ),
        );
      } else {
        if (configured.length === 0) writeLine(io.stdout, 'no webhooks in the policy file');
        for (const c of configured) {
          const d = c.deliveries;
          writeLine(io.stdout, `${c.name}: ${c.url}`);
          writeLine(
            io.stdout,
            `  events ${c.events.join(', ')}; teams ${c.teams ? c.teams.join(', ') : 'all'}; timeout ${c.timeoutMs / 1000}s; secret ${c.secretEnv} ${c.secret}`,
          );
          writeLine(
            io.stdout,
            `  ${d.delivered} delivered, ${d.pending} pending, ${d.failed} failed; last delivered ${iso(d.lastDeliveredAt)}`,
          );
          if (d.lastError && d.pending + d.failed > 0) writeLine(io.stdout, `  last error: ${d.lastError}`);
        }
        for (const s of others) {
          writeLine(
            io.stdout,
            `${s.sink} (not a webhook of the policy file): ${s.delivered} delivered, ${s.pending} pending, ${s.failed} failed`,
          );
        }
      }
      if (broken.length > 0) {
        for (const b of broken) {
          writeLine(io.stderr, `patchbot: webhook ${b.name}: its secret (${b.secretEnv}) is ${b.secret}`);
        }
        throw new CliExit(EXIT.partial);
      }
    });

  webhooks
    .command('failed')
    .description(
      'The dead-letter list: deliveries given up on after their last attempt or refused by the receiver.',
    )
    .option('--sink <name>', 'only this sink ("webhook:NAME" or a webhook name, "servicenow", "jira")')
    .addOption(formatOption())
    .action(async (o: { format: Format; sink?: string }) => {
      const sink = sinkNamed(o.sink);
      const dead = await withApp(io, { format: o.format }, (app) =>
        app.repos.events.deadLetters(sink === undefined ? {} : { sink }),
      );
      if (o.format === 'json') {
        writeLine(io.stdout, JSON.stringify({ outcome: 'ok', failed: dead.map(deadLetterJson) }, null, 2));
        return;
      }
      if (dead.length === 0) {
        writeLine(io.stdout, 'no failed deliveries');
        return;
      }
      for (const d of dead) {
        writeLine(
          io.stdout,
          `${d.id.padStart(6)}  ${d.sink}  ${d.event.type} change #${d.event.changeNumber}  event ${d.event.id}  ` +
            `${d.attempts} attempt(s), failed ${iso(d.failedAt)}`,
        );
        if (d.lastError) writeLine(io.stdout, `        ${d.lastError}`);
      }
      writeLine(
        io.stdout,
        `${dead.length} failed deliver${dead.length === 1 ? 'y' : 'ies'}: \`patchbot webhooks retry ID|--all\``,
      );
    });

  webhooks
    .command('retry')
    .description(
      'Put failed deliveries back in line (attempts start again); the workers deliver them. ' +
        'Exits 4 when some of the ids are not failed deliveries, 1 when none is.',
    )
    .argument('[ids...]', 'delivery ids, as `webhooks failed` lists them')
    .option('--all', 'every failed delivery')
    .option(
      '--sink <name>',
      'with --all: only this sink ("webhook:NAME" or a webhook name, "servicenow", "jira")',
    )
    .addOption(formatOption())
    .action(async (ids: string[], o: { all?: boolean; sink?: string; format: Format }) => {
      if (o.all === true && ids.length > 0) throw new UsageError('give delivery ids or --all, not both');
      if (o.all !== true && ids.length === 0) throw new UsageError('give delivery ids or --all');
      if (o.sink !== undefined && o.all !== true) throw new UsageError('--sink goes with --all');
      const sink = sinkNamed(o.sink);
      const requeued = await withApp(io, { format: o.format }, (app) =>
        app.repos.events.retry(
          o.all === true ? { all: true, ...(sink === undefined ? {} : { sink }) } : { ids },
        ),
      );
      const missing =
        o.all === true ? [] : ids.filter((id) => !requeued.includes(id.replace(/^0+(?=\d)/, '')));
      const outcome =
        o.all !== true && requeued.length === 0 ? 'error' : missing.length > 0 ? 'partial' : 'ok';
      if (o.format === 'json') {
        writeLine(io.stdout, JSON.stringify({ outcome, requeued, notFailed: missing }, null, 2));
      } else {
        writeLine(
          io.stdout,
          requeued.length === 0
            ? 'no failed deliveries were requeued'
            : `${requeued.length} deliver${requeued.length === 1 ? 'y' : 'ies'} requeued: ${requeued.join(', ')}`,
        );
      }
      if (missing.length > 0) writeLine(io.stderr, `patchbot: not failed deliveries: ${missing.join(', ')}`);
      if (outcome === 'error') throw new CliExit(EXIT.error);
      if (outcome === 'partial') throw new CliExit(EXIT.partial);
    });

  webhooks
    .command('test')
    .description(
      'Send a signed ping (type dev.patchbot.ping) to one webhook now. Exits 0 when it answered 2xx, 1 otherwise.',
    )
    .argument('<name>', 'webhook name in the policy file')
    .addOption(formatOption())
    .action(async (name: string, o: { format: Format }) => {
      const config = await loadCliConfig(io);
      const webhook = config.policy.webhooks.find((w) => w.name === name);
      if (!webhook) {
        const known = config.policy.webhooks.map((w) => w.name);
        throw new NotFoundError(
          `no webhook named ${JSON.stringify(name)} in ${config.policyPath}${known.length > 0 ? ` (there are: ${known.join(', ')})` : ''}`,
        );
      }
      const [registration] = buildWebhookSinks({ webhooks: [webhook] }, config.secret, {
        logger: cliLogger(io, config),
      });
      const sink = registration?.sink as WebhookSink;
      const event = pingCloudEvent(randomUUID(), webhook.name, new Date());
      const started = Date.now();
      let status: number | undefined;
      let error: string | undefined;
      try {
        status = await sink.send(event);
      } catch (err) {
        error = userMessageOf(err);
      }
      const ms = Date.now() - started;
      if (o.format === 'json') {
        writeLine(
          io.stdout,
          JSON.stringify(
            {
              outcome: error === undefined ? 'ok' : 'error',
              webhook: webhook.name,
              eventId: event.id,
              status: status ?? null,
              ms,
              error: error ?? null,
            },
            null,
            2,
          ),
        );
      } else if (error === undefined) {
        writeLine(
          io.stdout,
          `webhook ${webhook.name}: ping ${event.id} delivered (HTTP ${status}, ${ms} ms)`,
        );
      } else {
        writeLine(io.stdout, `webhook ${webhook.name}: ping ${event.id} not delivered: ${error}`);
      }
      if (error !== undefined) throw new CliExit(EXIT.error);
    });
}
