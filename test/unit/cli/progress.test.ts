import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgressOn, formatCount, type ProgressUpdate } from '../../../src/cli/progress.js';

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('formatCount', () => {
  it.each([
    [12_000, 45_000, 'records', '12,000/45,000 records'],
    [0, 3, 'files', '0/3 files'],
    [1_234_567, undefined, 'records', '1,234,567 records'],
  ])('%d of %s %s', (done, total, unit, want) => {
    expect(formatCount(done, total, unit)).toBe(want);
  });
});

describe('plain lines (not a terminal)', () => {
  it('prints at most one line per interval per task, and one when the task is done', () => {
    const out = capture();
    let now = 0;
    const p = createProgressOn({
      stream: out.stream,
      tty: false,
      quiet: false,
      label: 'feeds',
      intervalMs: 1000,
      now: () => now,
    });
    const step = (done: number, at: number, task = 'debian-tracker'): void => {
      now = at;
      p.update({ source: task, done, total: 45_000, unit: 'records' });
    };
    step(500, 0); // starts the clock, prints nothing
    step(6_000, 999);
    step(12_000, 1_000);
    step(13_000, 1_500);
    step(40_000, 2_100);
    step(1, 2_100, 'kev');
    p.finish('debian-tracker', '3 rejected');
    p.finish('kev');
    p.log('warning: something');
    p.stop();
    expect(out.text().split('\n')).toEqual([
      'feeds: debian-tracker 12,000/45,000 records',
      'feeds: debian-tracker 40,000/45,000 records',
      'feeds: debian-tracker 40,000/45,000 records done (3 rejected)',
      'feeds: kev 1/45,000 records done',
      'warning: something',
      '',
    ]);
  });

  it('unbound methods work, and a job without tasks or units reads well', () => {
    const out = capture();
    const p = createProgressOn({
      stream: out.stream,
      tty: false,
      quiet: false,
      label: 'inventory',
      intervalMs: 0,
      now: () => 1,
    });
    const update: (u: ProgressUpdate) => void = p.update;
    update({ done: 1, total: 10 });
    update({ done: 2, total: 10 });
    p.finish('');
    expect(out.text()).toBe('inventory: 2/10 items\ninventory: 2/10 items done\n');
  });

  it('--quiet prints nothing at all', () => {
    const out = capture();
    const p = createProgressOn({
      stream: out.stream,
      tty: false,
      quiet: true,
      label: 'feeds',
      intervalMs: 0,
    });
    p.update({ task: 'kev', done: 1, unit: 'records' });
    p.update({ task: 'kev', done: 2, unit: 'records' });
    p.finish('kev');
    p.log('x');
    p.stop();
    expect(out.text()).toBe('');
  });
});

describe('bars (a terminal)', () => {
  it('draws a bar with counts for known totals and a counter otherwise', async () => {
    const out = capture();
    Object.assign(out.stream, { isTTY: true, columns: 120 });
    const p = createProgressOn({ stream: out.stream, tty: true, quiet: false, label: 'feeds' });
    p.update({ task: 'kev', done: 700, total: 1_404, unit: 'records' });
    p.update({ task: 'epss', done: 12_345, unit: 'records' });
    await new Promise((r) => setTimeout(r, 300));
    p.finish('kev');
    p.stop();
    const text = out.text();
    expect(text).toMatch(/feeds: kev █+░+ 700\/1,404 records/);
    expect(text).toContain('feeds: epss 12,345 records');
    expect(text).toContain('(done)');
  });
});
