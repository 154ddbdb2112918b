/**
 * Delivers the outbox (src/db/repositories/outbox-repository.ts) in a process that runs workers:
 * claims what is due (the oldest undelivered message of each order key), hands each message to the
 * handler of its kind, marks it delivered, or schedules a retry with backoff (given up on after
 * `maxAttempts`). Any number of processes can run one: PostgreSQL leases each message to one of
 * them. It polls every `pollMs` and at once when nudged (this process just wrote a message).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { userMessageOf } from '../core/errors.js';
import type { OutboxMessage, OutboxRepository } from '../db/repositories/outbox-repository.js';

export type OutboxHandler = (message: OutboxMessage) => Promise<void>;

export interface OutboxRelayOptions {
  outbox: Pick<OutboxRepository, 'claim' | 'delivered' | 'failed'>;
  handlers: Readonly<Record<string, OutboxHandler>>;
  logger: Logger;
  workerId?: string;
  pollMs?: number;
  /** How long a claimed message is this process's to deliver (then another may take it). */
  leaseMs?: number;
  maxAttempts?: number;
  /** Wait before the next try after `attempts` failed deliveries. */
  backoffMs?: (attempts: number) => number;
  /**
   * Decides what a failed delivery leads to (default: retried after `backoffMs` until
   * `maxAttempts`): a permanent failure is given up on at once, a receiver may say when to come back.
   */
  onFailure?: (err: unknown, message: OutboxMessage) => { giveUp: boolean; retryInMs: number };
}

export interface OutboxRelay {
  /** Delivers what is due now and keeps polling until stopped. */
  start(): void;
  /** Looks for due messages at once. */
  nudge(): void;
  /** Delivers everything due now (and what those deliveries make due), then resolves. */
  drain(): Promise<void>;
  /** Stops polling after the delivery in progress. */
  stop(): Promise<void>;
}

export const DEFAULT_OUTBOX_BACKOFF = (attempts: number): number =>
  Math.min(15 * 60_000, 1_000 * 2 ** Math.max(0, attempts - 1));

export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const log = options.logger.child({ name: 'outbox' });
  const workerId = options.workerId ?? `outbox-${randomUUID()}`;
  const pollMs = options.pollMs ?? 1_000;
  const maxAttempts = options.maxAttempts ?? 12;
  const backoff = options.backoffMs ?? DEFAULT_OUTBOX_BACKOFF;
  const kinds = Object.keys(options.handlers);
  let running = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> | undefined;
  let again = false;

  const deliver = async (m: OutboxMessage): Promise<void> => {
    const handler = options.handlers[m.kind];
    try {
      if (!handler) throw new Error(`no handler for outbox messages of kind ${m.kind}`);
      await handler(m);
      await options.outbox.delivered(m.id, workerId);
    } catch (err) {
      const { giveUp, retryInMs: wait } = options.onFailure
        ? options.onFailure(err, m)
        : { giveUp: m.attempts >= maxAttempts, retryInMs: backoff(m.attempts) };
      (giveUp ? log.error.bind(log) : log.warn.bind(log))(
        { err, id: m.id, kind: m.kind, attempt: m.attempts },
        giveUp ? 'outbox message given up on after its last attempt' : 'outbox delivery failed; will retry',
      );
      await options.outbox
        .failed(m.id, workerId, userMessageOf(err), { retryInMs: wait, giveUp })
        .catch((e: unknown) => log.warn({ err: e, id: m.id }, 'could not record an outbox failure'));
    }
  };

  /** Claims and delivers until nothing is due. */
  const runPass = async (): Promise<void> => {
    for (;;) {
      again = false;
      let batch: OutboxMessage[];
      try {
        batch = await options.outbox.claim(workerId, {
          kinds,
          ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
        });
      } catch (err) {
        log.warn({ err }, 'cannot read the outbox; trying again');
        return;
      }
      // one message per order key per claim: they can go out side by side
      await Promise.all(batch.map(deliver));
      if (batch.length === 0 && !again) return;
    }
  };

  const kick = (): Promise<void> => {
    if (pass) {
      again = true;
      return pass;
    }
    pass = runPass().finally(() => {
      pass = undefined;
      schedule();
    });
    return pass;
  };

  const schedule = (): void => {
    if (!running || stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void kick(), pollMs);
    timer.unref();
  };

  return {
    start() {
      if (running) return;
      running = true;
      void kick();
    },
    nudge() {
      if (!stopped) void kick();
    },
    async drain() {
      await kick();
      while (pass) await pass;
    },
    async stop() {
      stopped = true;
      running = false;
      clearTimeout(timer);
      if (pass) await pass;
    },
  };
}
