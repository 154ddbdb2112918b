/**
 * Runs one task per item with at most `concurrency` at a time (p-limit) and never lets one failure
 * stop the others: every item gets its own settled result, in input order.
 */
import pLimit from 'p-limit';

export function mapSettledLimited<T, R>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const limit = pLimit(concurrency);
  return Promise.allSettled(items.map((item, index) => limit(() => task(item, index))));
}
