/**
 * How a sink is registered with the event dispatcher: the sink and how its failed deliveries are
 * retried. Built from the policy at worker start (src/integrations/sinks.ts).
 */
import type { EventSink } from './event.js';

export interface SinkRetry {
  /** Deliveries tried before the event is dead-lettered. */
  maxAttempts: number;
  /** Wait after the first failure; doubles after each, up to maxBackoffMs. */
  initialBackoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_SINK_RETRY: SinkRetry = {
  maxAttempts: 12,
  initialBackoffMs: 5_000,
  maxBackoffMs: 15 * 60_000,
};

export interface SinkRegistration {
  sink: EventSink;
  retry?: Partial<SinkRetry>;
  /**
   * The longest one delivery may take (the sink's own timeouts included): the dispatcher leases a
   * delivery for longer than this and aborts the sink's signal when it is over. Default 60 s.
   */
  deliveryTimeoutMs?: number;
}

/** The longest wait a receiver's Retry-After is honoured for. */
export const MAX_RETRY_AFTER_MS = 6 * 60 * 60_000;

/** Wait before the next try after `attempts` failures (at least what the receiver asked for). */
export function retryDelay(retry: SinkRetry, attempts: number, retryAfterMs?: number): number {
  const backoff = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** Math.max(0, attempts - 1));
  if (retryAfterMs === undefined || !Number.isFinite(retryAfterMs) || retryAfterMs < 0) return backoff;
  return Math.max(backoff, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}
