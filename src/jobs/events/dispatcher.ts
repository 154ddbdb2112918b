/**
 * Delivers outbound events to their sinks, in every process that runs workers.
 *
 * 1. Fan-out: an outbox relay takes `event` rows in order per change, completes each event (its
 *    change's number and team, its time) and writes one delivery row per sink that accepts it
 *    (written once per event and sink, whoever does it), then nudges the sinks' relays.
 * 2. Delivery: one outbox relay per sink (kind `sink:<name>`): a slow or dead sink waits in its
 *    own relay while the others go on. Each delivery row is leased to one process; the events of
 *    one change reach a sink in the order they were written (the next waits until the one before
 *    is delivered or dead-lettered). A failure worth retrying (TRANSIENT) comes back after the
 *    sink's backoff, or later when the receiver said so (`details.retryAfterMs`); any other
 *    failure, or the last attempt, dead-letters the delivery (`patchbot webhooks failed|retry`).
 *
 * Delivery is at least once: a process that dies (or loses its lease) after the receiver took an
 * event delivers it again, with the same event id.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { PatchbotEventSchema } from '../../core/events/cloudevent.js';
import type { EventSink, PatchbotEvent } from '../../core/events/event.js';
import {
  DEFAULT_SINK_RETRY,
  retryDelay,
  type SinkRegistration,
  type SinkRetry,
} from '../../core/events/registration.js';
import { PatchbotError } from '../../core/errors.js';
import { EVENT_OUTBOX_KIND, sinkKind } from '../../db/repositories/event-outbox.js';
import type { EventRepository } from '../../db/repositories/event-repository.js';
import type { OutboxMessage, OutboxRepository } from '../../db/repositories/outbox-repository.js';
import { createOutboxRelay, type OutboxRelay } from '../outbox-relay.js';

export interface EventDispatcherOptions {
  outbox: Pick<OutboxRepository, 'claim' | 'delivered' | 'failed'>;
  events: Pick<EventRepository, 'complete' | 'addDeliveries'>;
  sinks: readonly SinkRegistration[];
  logger: Logger;
  workerId?: string;
  /** How often each relay looks when nothing nudged it (default 1 s). */
  pollMs?: number;
}

export interface EventDispatcher {
  start(): void;
  /** An event was just written: fan it out now. */
  nudge(): void;
  /** Fans out and delivers everything due now, then resolves. */
  drain(): Promise<void>;
  stop(): Promise<void>;
  readonly sinks: readonly string[];
}

/** A sink's `accepts` that throws accepts nothing (logged). */
function accepts(sink: EventSink, event: PatchbotEvent, log: Logger): boolean {
  try {
    return sink.accepts(event);
  } catch (err) {
    log.error(
      { err, sink: sink.name, event: event.id },
      'event sink failed to say whether it accepts an event',
    );
    return false;
  }
}

export function retryAfterOf(err: unknown): number | undefined {
  if (!(err instanceof PatchbotError)) return undefined;
  const v = err.details.retryAfterMs;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

export function createEventDispatcher(options: EventDispatcherOptions): EventDispatcher {
  const log = options.logger.child({ name: 'events' });
  const workerId = options.workerId ?? `events-${randomUUID()}`;
  const names = new Set<string>();
  for (const r of options.sinks) {
    if (names.has(r.sink.name))
      throw new PatchbotError('CONFIG_INVALID', `two event sinks are named ${r.sink.name}`);
    names.add(r.sink.name);
  }

  const sinkRelays: OutboxRelay[] = options.sinks.map((registration) => {
    const { sink } = registration;
    const retry: SinkRetry = { ...DEFAULT_SINK_RETRY, ...registration.retry };
    const timeoutMs = registration.deliveryTimeoutMs ?? 60_000;
    const deliver = async (m: OutboxMessage): Promise<void> => {
      const event = PatchbotEventSchema.safeParse(m.payload);
      if (!event.success) throw new PatchbotError('VALIDATION', `delivery ${m.id} holds an unreadable event`);
      // over before the lease is: another process may take the delivery only after this one gave up
      await sink.deliver(event.data, AbortSignal.timeout(timeoutMs));
      log.debug({ sink: sink.name, event: event.data.id, type: event.data.type }, 'event delivered');
    };
    return createOutboxRelay({
      outbox: options.outbox,
      handlers: { [sinkKind(sink.name)]: deliver },
      logger: log.child({ sink: sink.name }),
      workerId: `${workerId}:${sink.name}`,
      leaseMs: timeoutMs + 30_000,
      ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
      onFailure: (err, m) => {
        const transient = err instanceof PatchbotError && err.code === 'TRANSIENT';
        return {
          giveUp: !transient || m.attempts >= retry.maxAttempts,
          retryInMs: retryDelay(retry, m.attempts, retryAfterOf(err)),
        };
      },
    });
  });

  const fanOut = createOutboxRelay({
    outbox: options.outbox,
    handlers: {
      [EVENT_OUTBOX_KIND]: async (m) => {
        const event = await options.events.complete(m);
        const to = options.sinks.filter((r) => accepts(r.sink, event, log)).map((r) => r.sink.name);
        const added = await options.events.addDeliveries(event, to);
        if (added > 0) for (const r of sinkRelays) r.nudge();
      },
    },
    logger: log.child({ stage: 'fan-out' }),
    workerId: `${workerId}:fan-out`,
    ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
  });

  return {
    sinks: options.sinks.map((r) => r.sink.name),
    start() {
      fanOut.start();
      for (const r of sinkRelays) r.start();
    },
    nudge() {
      fanOut.nudge();
    },
    async drain() {
      await fanOut.drain();
      await Promise.all(sinkRelays.map((r) => r.drain()));
    },
    async stop() {
      await fanOut.stop();
      await Promise.all(sinkRelays.map((r) => r.stop()));
    },
  };
}
