/**
 * Per-channel pacing for chat posts: Slack allows about one message per second per channel and
 * Teams about one per second per conversation. Tasks for one channel run one after another, in
 * the order they were scheduled, starting at least `intervalMs` apart; channels do not wait for
 * each other. A task that backs off (429) holds its channel's queue until it is done.
 */

/** Time as the limiter sees it: injectable so tests can run a virtual clock. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

interface Lane {
  tail: Promise<void>;
  /** Earliest start time of the next task. */
  nextAt: number;
  queued: number;
}

export class ChannelRateLimiter {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Tasks waiting or running for `channel`. */
  queued(channel: string): number {
    return this.lanes.get(channel)?.queued ?? 0;
  }

  schedule<T>(channel: string, task: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(channel);
    if (!lane) {
      lane = { tail: Promise.resolve(), nextAt: 0, queued: 0 };
      this.lanes.set(channel, lane);
    }
    const l = lane;
    l.queued++;
    const result = l.tail.then(async () => {
      const wait = l.nextAt - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait);
      l.nextAt = this.clock.now() + this.intervalMs;
      return task();
    });
    // The lane continues whether this task succeeded or failed.
    l.tail = result.then(
      () => this.done(channel, l),
      () => this.done(channel, l),
    );
    return result;
  }

  private done(channel: string, lane: Lane): void {
    lane.queued--;
    // Forget idle lanes whose spacing has passed, so the map does not grow with every channel ever seen.
    if (lane.queued === 0 && lane.nextAt <= this.clock.now() && this.lanes.get(channel) === lane) {
      this.lanes.delete(channel);
    }
  }
}
