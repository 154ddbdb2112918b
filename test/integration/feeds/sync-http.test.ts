import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncFeeds } from '../../../src/feeds/sync.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/feeds');
let server: Server;
let base: string;
const requests: { url: string; headers: IncomingMessage['headers'] }[] = [];
let kev: Buffer;
let epssGz: Buffer;

/** Five NVD CVEs served two per page, filtered by lastMod window like the real API. */
const nvdCves = Array.from({ length: 5 }, (_, i) => ({
  id: `CVE-2024-000${i + 1}`,
  lastModified: `2024-0${i + 1}-15T00:00:00.000`,
  vulnStatus: i === 4 ? 'Rejected' : 'Analyzed',
  metrics: {
    cvssMetricV31: [
      {
        source: 'nvd@nist.gov',
        type: 'Primary',
        cvssData: {
          version: '3.1',
          vectorString: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
          baseScore: 9.8,
          baseSeverity: 'CRITICAL',
        },
      },
    ],
  },
}));

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', base);
  requests.push({ url: url.pathname + url.search, headers: req.headers });
  switch (url.pathname) {
    case '/kev.json':
      if (req.headers['if-none-match'] === '"kev-1"') {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, {
        etag: '"kev-1"',
        'last-modified': 'Mon, 25 Aug 2025 17:04:19 GMT',
        'content-type': 'application/json',
      });
      res.end(kev);
      return;
    case '/kev-gzip.json':
      res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/json' });
      res.end(gzipSync(kev));
      return;
    case '/epss_scores-current.csv.gz':
      res.writeHead(302, { location: '/epss_scores-2026-09-29.csv.gz' }).end();
      return;
    case '/epss_scores-2026-09-29.csv.gz':
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(epssGz);
      return;
    case '/leave':
      res.writeHead(302, { location: 'http://example.com/kev.json' }).end();
      return;
    case '/big':
      res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
      res.end(Buffer.alloc(10 * 1024 * 1024));
      return;
    case '/slow':
      res.writeHead(200);
      res.write('{');
      return; // never ends
    case '/down':
      res.writeHead(503).end();
      return;
    case '/rest/json/cves/2.0': {
      const start = url.searchParams.get('lastModStartDate');
      const end = url.searchParams.get('lastModEndDate');
      const matching = nvdCves.filter(
        (c) =>
          start === null ||
          (c.lastModified + 'Z' >= start.replace('+00:00', 'Z') &&
            c.lastModified + 'Z' <= (end ?? '').replace('+00:00', 'Z')),
      );
      const startIndex = Number(url.searchParams.get('startIndex') ?? 0);
      const page = matching.slice(startIndex, startIndex + 2);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          resultsPerPage: page.length,
          startIndex,
          totalResults: matching.length,
          format: 'NVD_CVE',
          version: '2.0',
          vulnerabilities: page.map((cve) => ({ cve })),
        }),
      );
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

beforeAll(async () => {
  kev = await readFile(join(FIXTURES, 'kev/known_exploited_vulnerabilities.json'));
  epssGz = gzipSync(await readFile(join(FIXTURES, 'epss/epss_scores-current_head.csv')));
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('URL sources', () => {
  it('downloads, stores the validators, and skips an unchanged feed with a conditional request', async () => {
    const sink = new MemoryFeedSink();
    const [first] = await syncFeeds([`${base}/kev.json`], sink);
    expect(first).toMatchObject({ new: 1404, notModified: false, formats: ['kev'] });
    expect(sink.states.get(`${base}/kev.json`)).toEqual({
      etag: '"kev-1"',
      lastModified: 'Mon, 25 Aug 2025 17:04:19 GMT',
    });

    const [second] = await syncFeeds([`${base}/kev.json`], sink);
    expect(second).toMatchObject({ notModified: true, read: 0, new: 0 });
    const last = requests.filter((r) => r.url === '/kev.json').at(-1);
    expect(last?.headers['if-none-match']).toBe('"kev-1"');
    expect(last?.headers['if-modified-since']).toBe('Mon, 25 Aug 2025 17:04:19 GMT');
  });

  it('follows a redirect to a gzip EPSS file and reads it by content', async () => {
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([`${base}/epss_scores-current.csv.gz`], sink);
    expect(s).toMatchObject({ new: 20, formats: ['epss'] });
    expect(sink.enrichment.epss.get('CVE-1999-0016')?.item.epss).toEqual({
      score: 0.95739,
      percentile: 0.99871,
      date: '2026-09-29',
    });
  });

  it('decodes Content-Encoding: gzip', async () => {
    const [s] = await syncFeeds([`${base}/kev-gzip.json`], new MemoryFeedSink());
    expect(s?.new).toBe(1404);
  });

  it.each([
    ['/leave', /refusing http:\/\/example\.com: feeds are fetched over https only/],
    ['/big', /10485760 bytes is over the 1048576-byte limit/],
    ['/slow', /\/slow: timed out after 1 s/],
    ['/down', /\/down: HTTP 503/],
    ['/nothing', /\/nothing: HTTP 404/],
  ])('%s fails with a clear message and stores no state', async (path, message) => {
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([`${base}${path}`], sink, {
      limits: { maxDownloadBytes: 1024 * 1024, fetchTimeoutMs: 1000 },
    });
    expect(s?.error).toMatch(message);
    expect(sink.states.size).toBe(0);
  });

  it('refuses plain http to a non-loopback host before connecting', async () => {
    const [s] = await syncFeeds(['http://example.com/kev.json'], new MemoryFeedSink(), {
      fetch: () => Promise.reject(new Error('must not be called')),
    });
    expect(s?.error).toMatch(/^refusing http:\/\/example\.com/);
  });
});

describe('NVD CVE API', () => {
  it('pages through everything, then asks only for what changed since the cursor', async () => {
    const sink = new MemoryFeedSink();
    const url = `${base}/rest/json/cves/2.0`;
    const sleeps: number[] = [];
    const deps = { nvdPauseMs: 5, sleep: (ms: number) => (sleeps.push(ms), Promise.resolve()) };
    const [full] = await syncFeeds([url], sink, { ...deps, now: () => new Date('2024-03-01T00:00:00Z') });
    expect(full).toMatchObject({ new: 5, read: 5, formats: ['nvd'] });
    expect(sink.enrichment.nvd.get('CVE-2024-0005')?.item.rejected).toBe(true);
    expect(sleeps).toEqual([5, 5]);
    expect(sink.states.get(url)).toEqual({ cursor: '2024-03-01T00:00:00.000Z' });

    const before = requests.length;
    const [incremental] = await syncFeeds([url], sink, {
      ...deps,
      now: () => new Date('2024-06-01T00:00:00Z'),
    });
    const asked = requests.slice(before).map((r) => new URL(r.url, base).searchParams);
    expect(asked[0]?.get('lastModStartDate')).toBe('2024-03-01T00:00:00.000+00:00');
    expect(asked[0]?.get('lastModEndDate')).toBe('2024-06-01T00:00:00.000+00:00');
    // CVE-2024-0003..0005 were modified in the window; they are unchanged content.
    expect(incremental).toMatchObject({ read: 3, new: 0, changed: 0, unchanged: 3 });
    expect(sink.states.get(url)).toEqual({ cursor: '2024-06-01T00:00:00.000Z' });
  });
});
