import { describe, expect, it } from 'vitest';
import { ChannelRateLimiter, type Clock } from '../../../src/bot/rate-limiter.js';

/** A virtual clock: sleeps resolve only when the test advances time past them. */
class ManualClock implements Clock {
  private t = 0;
  private sleepers: { at: number; resolve: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.sleepers.push({ at: this.t + ms, resolve }));
  }
  /** Runs every sleeper due up to now + ms, in time order, letting the tasks they release run. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers[0];
      if (!next || next.at > end) break;
      this.sleepers.shift();
      this.t = next.at;
      next.resolve();
    }
    this.t = end;
    await flush();
  }
}

const flush = async () => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe('ChannelRateLimiter', () => {
  it('starts tasks for one channel at least the interval apart, in order', async () => {
    const clock = new ManualClock();
    const limiter = new ChannelRateLimiter(1000, clock);
    const starts: { i: number; at: number }[] = [];
    const all = Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        limiter.schedule('C1', () => {
          starts.push({ i, at: clock.now() });
          return Promise.resolve(i);
        }),
      ),
    );
    await clock.advance(20_000);
    expect(await all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(starts.map((s) => s.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let k = 1; k < starts.length; k++)
      expect(starts[k].at - starts[k - 1].at).toBeGreaterThanOrEqual(1000);
    expect(starts[9].at - starts[0].at).toBeGreaterThanOrEqual(9000);
  });

  it('does not make one channel wait for another', async () => {
    const clock = new ManualClock();
    const limiter = new ChannelRateLimiter(1000, clock);
    const starts = new Map<string, number[]>();
    const run = (ch: string) =>
      limiter.schedule(ch, () => {
        starts.set(ch, [...(starts.get(ch) ?? []), clock.now()]);
        return Promise.resolve();
      });
    const all = Promise.all([run('A'), run('A'), run('B'), run('C')]);
    await clock.advance(5000);
    await all;
    expect(starts.get('A')).toEqual([0, 1000]);
    expect(starts.get('B')).toEqual([0]);
    expect(starts.get('C')).toEqual([0]);
  });

  it('holds the channel while a task waits (a 429 back-off) and keeps going after a failure', async () => {
    const clock = new ManualClock();
    const limiter = new ChannelRateLimiter(1000, clock);
    const starts: number[] = [];
    const first = limiter.schedule('C1', async () => {
      starts.push(clock.now());
      await clock.sleep(5000); // backing off inside the task
      throw new Error('gave up');
    });
    const second = limiter.schedule('C1', () => {
      starts.push(clock.now());
      return Promise.resolve('ok');
    });
    const firstResult = first.catch((e: unknown) => (e as Error).message);
    await clock.advance(10_000);
    expect(await firstResult).toBe('gave up');
    expect(await second).toBe('ok');
    expect(starts).toEqual([0, 5000]);
  });

  it('lets a task start at once when the channel has been quiet for the interval', async () => {
    const clock = new ManualClock();
    const limiter = new ChannelRateLimiter(1000, clock);
    const starts: number[] = [];
    const task = () => {
      starts.push(clock.now());
      return Promise.resolve();
    };
    const a = limiter.schedule('C1', task);
    await clock.advance(3000);
    await a;
    const b = limiter.schedule('C1', task);
    await clock.advance(0);
    await b;
    expect(starts).toEqual([0, 3000]);
    expect(limiter.queued('C1')).toBe(0);
  });
});
