import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isEpssHeader, isRejection, parseEpssMeta, parseEpssRow } from '../../../src/feeds/epss/parse.js';
import { readEpssCsv } from '../../../src/feeds/epss/read.js';
import type { EpssItem } from '../../../src/core/feed-sink.js';
import type { FeedRejection } from '../../../src/feeds/rejection.js';
import { readFixture } from './helpers.js';

async function readAll(text: string, batchSize = 7) {
  const items: EpssItem[] = [];
  const rejections: FeedRejection[] = [];
  const sizes: number[] = [];
  for await (const batch of readEpssCsv(Readable.from([text]), 'epss.csv', '2000-01-01', batchSize)) {
    items.push(...batch.items);
    rejections.push(...batch.rejections);
    sizes.push(batch.items.length + batch.rejections.length);
  }
  return { items, rejections, sizes };
}

describe('EPSS CSV', () => {
  it('reads the real head of the daily file: every row, the score date from the comment line', async () => {
    const text = readFixture('epss/epss_scores-current_head.csv');
    const { items, rejections, sizes } = await readAll(text);
    // Oracle: the file split by hand.
    const rows = text
      .trim()
      .split('\n')
      .slice(2)
      .map((l) => l.split(','));
    expect(rejections).toEqual([]);
    expect(items).toEqual(
      rows.map(([cve, epss, pct]) => ({
        cve,
        epss: { score: Number(epss), percentile: Number(pct), date: '2026-09-29' },
      })),
    );
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
  });

  it('uses the fallback date without a comment line', async () => {
    const { items } = await readAll('cve,epss,percentile\nCVE-2023-4911,0.80735,0.99099\n');
    expect(items).toEqual([
      { cve: 'CVE-2023-4911', epss: { score: 0.80735, percentile: 0.99099, date: '2000-01-01' } },
    ]);
  });

  it('rejects bad rows by line and CVE, and keeps the good ones', async () => {
    const text = [
      '#model_version:v2025.03.14,score_date:2025-08-15T00:00:00Z',
      'cve,epss,percentile',
      'CVE-2024-3094,0.83739,0.99245',
      'CVE-2024-0001,1.5,0.5',
      'not-a-cve,0.1,0.1',
      'CVE-2024-0002,abc,0.1',
      'CVE-2024-0003,0.1',
      `CVE-2024-0004,0.${'1'.repeat(3000)},0.1`,
      'CVE-2024-6387,0.62715,0.98301',
    ].join('\n');
    const { items, rejections } = await readAll(text);
    expect(items.map((i) => i.cve)).toEqual(['CVE-2024-3094', 'CVE-2024-6387']);
    expect(items[0]?.epss.date).toBe('2025-08-15');
    expect(rejections.map((r) => `${r.recordId}: ${r.reason}`)).toEqual([
      'CVE-2024-0001: epss is not a number between 0 and 1',
      'line 5: first column is not a CVE id',
      'CVE-2024-0002: epss is not a number between 0 and 1',
      'CVE-2024-0003: expected 3 columns (cve,epss,percentile), found 2',
      'CVE-2024-0004: epss is not a number between 0 and 1',
    ]);
  });

  it('fails clearly on a file without the header', async () => {
    await expect(readAll('hello,world\n1,2\n')).rejects.toThrow(/line 1 is not the EPSS header/);
  });

  it.each([
    [
      ['#model_version:v2023.03.01', 'score_date:2023-03-07T00:00:00+0000'],
      { modelVersion: 'v2023.03.01', scoreDate: '2023-03-07' },
    ],
    [
      ['#model_version:v2026.06.15', 'score_date:2026-09-29T12:00:22Z'],
      { modelVersion: 'v2026.06.15', scoreDate: '2026-09-29' },
    ],
    [['cve', 'epss', 'percentile'], undefined],
  ])('parseEpssMeta(%j)', (fields, meta) => {
    expect(parseEpssMeta(fields)).toEqual(meta);
  });

  it('parses rows and headers', () => {
    expect(isEpssHeader(['cve', 'epss', 'percentile'])).toBe(true);
    expect(isEpssHeader(['cve', 'epss'])).toBe(false);
    const row = parseEpssRow(['CVE-1999-0001', '0.03351', '0.88255'], '2026-09-29', 's', 3);
    expect(isRejection(row)).toBe(false);
    expect(parseEpssRow(['CVE-1999-0001', '1e-05', '0.1'], 'd', 's', 3)).toMatchObject({
      epss: { score: 0.00001 },
    });
  });
});
