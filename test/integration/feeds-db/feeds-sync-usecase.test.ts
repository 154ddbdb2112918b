/**
 * syncFeedSources: which sources are read (policy, --from, offline), the bundled snapshot as the
 * stand-in for a feed that was never synced, and that a feed synced before keeps its data when its
 * URL fails. The official URL is played by a loopback HTTP server serving the real KEV catalog.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Feeds } from '../../../src/config/policy-schema.js';
import { createRepositories } from '../../../src/db/index.js';
import { syncFeeds } from '../../../src/feeds/sync.js';
import {
  BUNDLED_FEEDS_DIR,
  defaultFeedSources,
  planFeedSources,
  syncFeedSources,
  type PlannedSource,
} from '../../../src/usecases/feeds-sync.js';
import { forEachBackend } from '../../support/db.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';

const KEV_FILE = path.join(BUNDLED_FEEDS_DIR, 'kev/known_exploited_vulnerabilities.json');

describe('planFeedSources', () => {
  const feeds = (sources: Record<string, { url?: string; enabled?: boolean }> = {}) =>
    Feeds.parse({ sources }).sources;

  it('--from: exactly those sources, nothing from the policy', () => {
    const plan = planFeedSources({ from: ['a.json', 'kev'], policyFeeds: feeds(), offline: false });
    expect(plan.sources).toEqual([
      { name: 'a.json', location: 'a.json', origin: 'from' },
      { name: 'kev', location: 'kev', origin: 'from' },
    ]);
  });

  it('default: the enabled policy sources, each official feed with its bundled snapshot as fallback', async () => {
    const policy = feeds();
    const plan = planFeedSources({ policyFeeds: policy });
    expect(plan.sources.map((s) => s.name)).toEqual(policy.filter((f) => f.enabled).map((f) => f.name));
    for (const s of plan.sources) {
      expect(s.origin).toBe('policy');
      expect(s.fallback, s.name).toBeDefined();
      expect((await readdir(s.fallback!)).length, s.fallback).toBeGreaterThan(0);
    }
    expect(defaultFeedSources({ policy: { feeds: { sources: policy } } })).toEqual(plan.sources);
  });

  it('a mirror URL has no fallback; offline skips it and reads the snapshot of the others', () => {
    const policy = feeds({ kev: { url: 'https://mirror.example.org/kev.json' }, nvd: { enabled: true } });
    const online = planFeedSources({ policyFeeds: policy });
    expect(online.sources.find((s) => s.name === 'kev')).toEqual({
      name: 'kev',
      location: 'https://mirror.example.org/kev.json',
      origin: 'policy',
    });
    const offline = planFeedSources({ policyFeeds: policy, offline: true });
    expect(offline.skipped).toEqual([{ name: 'kev', reason: 'no bundled snapshot of this feed' }]);
    expect(offline.sources.map((s) => [s.name, s.origin])).toEqual([
      ['debian-tracker', 'bundled'],
      ['osv-debian', 'bundled'],
      ['epss', 'bundled'],
      ['nvd', 'bundled'],
    ]);
    expect(offline.sources.find((s) => s.name === 'nvd')?.location).toBe(path.join(BUNDLED_FEEDS_DIR, 'nvd'));
  });
});

/** A stand-in for an official feed URL: serves the real KEV file with an ETag, or drops connections. */
class FeedServer {
  up = true;
  requests = 0;
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    const body = await readFile(KEV_FILE);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    this.server = createServer((req, res) => {
      this.requests++;
      if (!this.up) {
        req.socket.destroy();
        return;
      }
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${port}/feeds/known_exploited_vulnerabilities.json`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

forEachBackend('syncFeedSources', (db) => {
  const server = new FeedServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());
  beforeEach(async () => {
    const prisma = db().prisma;
    await prisma.affectedPackage.deleteMany();
    await prisma.advisory.deleteMany();
    await prisma.cveEnrichment.deleteMany();
    await prisma.feedState.deleteMany();
    await prisma.feedFreshness.deleteMany();
    server.up = true;
  });

  it('the bundled snapshot (data/feeds) imports with 0 rejections, and again with 0 new / 0 changed', async () => {
    const repos = createRepositories(db());
    const first = await syncFeedSources({ from: [BUNDLED_FEEDS_DIR], repos });
    const [oracle] = await syncFeeds([BUNDLED_FEEDS_DIR], new MemoryFeedSink());
    expect(first.sources[0]).toMatchObject({ status: 'ok', rejectedCount: 0, new: oracle.new });
    expect(first.sources[0].skipped.map((s) => path.basename(s))).toEqual(['README.md']);
    expect(new Set(first.sources[0].formats)).toEqual(
      new Set(['osv', 'debian-tracker', 'kev', 'epss', 'nvd']),
    );
    // read from wherever it is named, the bundled snapshot is marked as such
    const feeds = await repos.advisories.feedFreshness();
    expect(feeds.map((f) => f.feed).sort()).toEqual([
      'debian-tracker',
      'epss',
      'kev',
      'nvd',
      'osv:Debian',
      'osv:PyPI',
      'osv:Ubuntu',
      'osv:npm',
    ]);
    expect(feeds.every((f) => f.bundled)).toBe(true);
    const second = await syncFeedSources({ from: [BUNDLED_FEEDS_DIR], repos });
    expect(second.totals).toMatchObject({ new: 0, changed: 0, withdrawn: 0, rejected: 0, failed: 0 });
    expect(second.sources[0].unchanged).toBe(oracle.new);
  });

  it('a feed never synced falls back to its snapshot; once synced, a failure keeps the stored data', async () => {
    const repos = createRepositories(db());
    const kev: PlannedSource = {
      name: 'kev',
      location: server.url,
      origin: 'policy',
      fallback: path.join(BUNDLED_FEEDS_DIR, 'kev'),
    };
    const progress: string[] = [];

    server.up = false;
    const offline = await syncFeedSources({
      sources: [kev],
      repos,
      onProgress: (p) => progress.push(p.source),
    });
    expect(offline.sources[0]).toMatchObject({
      source: 'kev',
      status: 'fallback',
      fallbackLocation: kev.fallback,
      new: 1404,
    });
    expect(offline.sources[0].error).toContain('127.0.0.1');
    expect(offline.totals.failed).toBe(0);
    expect(new Set(progress)).toEqual(new Set(['kev']));
    expect(await repos.advisories.feedStatus(server.url)).toMatchObject({
      lastStatus: 'error',
      syncedAt: null,
    });
    const kevFreshness = async () => (await repos.advisories.feedFreshness()).find((f) => f.feed === 'kev');
    // the snapshot is marked as such, dated by the catalog's own release
    expect(await kevFreshness()).toMatchObject({
      bundled: true,
      basis: 'published',
      location: kev.fallback,
      checkedAt: null,
    });
    expect((await kevFreshness())?.asOf.toISOString().slice(0, 10)).toBe('2025-08-25');

    server.up = true;
    const online = await syncFeedSources({ sources: [kev], repos });
    expect(online.sources[0]).toMatchObject({ status: 'ok', new: 0, unchanged: 1404 });
    const fetched = await kevFreshness();
    expect(fetched).toMatchObject({ bundled: false, basis: 'published', location: server.url });
    expect(fetched?.checkedAt).toBeInstanceOf(Date);
    const state = await repos.advisories.getFeedState(server.url);
    expect(state?.etag).toMatch(/^"[0-9a-f]{16}"$/);

    server.up = false;
    const requestsBefore = server.requests;
    const down = await syncFeedSources({ sources: [kev], repos });
    expect(server.requests).toBeGreaterThan(requestsBefore);
    expect(down.sources[0]).toMatchObject({ status: 'failed', read: 0, new: 0 });
    expect(down.sources[0].fallbackLocation).toBeUndefined();
    expect(down.totals.failed).toBe(1);
    expect(await repos.advisories.getFeedState(server.url)).toEqual(state);
    expect(await repos.advisories.feedStatus(server.url)).toMatchObject({ lastStatus: 'error' });
    expect((await repos.advisories.count()).enrichments).toBe(1404);

    // a failed sync confirms nothing
    expect((await kevFreshness())?.checkedAt).toEqual(fetched?.checkedAt);

    server.up = true;
    const later = new Date(Date.now() + 3_600_000);
    const again = await syncFeedSources({ sources: [kev], repos, now: () => later });
    expect(again.sources[0]).toMatchObject({ status: 'not-modified', read: 0 });
    // "not modified" confirms the stored data is the newest: checked now, dated as before
    expect((await kevFreshness())?.checkedAt).toEqual(later);
    expect((await kevFreshness())?.asOf).toEqual(fetched?.asOf);
    expect(await repos.advisories.feedStatus(server.url)).toMatchObject({
      lastStatus: 'ok',
      lastError: null,
    });
  });

  it('when the bundled advisories stand in for a feed, the NVD records of their CVEs come with them', async () => {
    const repos = createRepositories(db());
    server.up = false;
    const tracker: PlannedSource = {
      name: 'debian-tracker',
      location: server.url,
      origin: 'policy',
      fallback: path.join(BUNDLED_FEEDS_DIR, 'debian-tracker'),
    };
    const result = await syncFeedSources({ sources: [tracker], repos });
    expect(result.sources.map((x) => [x.source, x.status, x.origin])).toEqual([
      ['debian-tracker', 'fallback', 'policy'],
      ['nvd', 'ok', 'bundled'],
    ]);
    expect(result.outcome).toBe('partial');
    const enrichment = await repos.advisories.enrichmentFor(['CVE-2024-6387', 'CVE-2023-4911']);
    expect(enrichment.get('CVE-2024-6387')?.cvss.length).toBeGreaterThan(0);
    expect(enrichment.get('CVE-2023-4911')?.cvss.length).toBeGreaterThan(0);
    const feeds = new Map((await repos.advisories.feedFreshness()).map((f) => [f.feed, f]));
    expect(feeds.get('debian-tracker')).toMatchObject({ bundled: true, basis: 'bundled' });
    expect(feeds.get('debian-tracker')?.ecosystems).toContain('Debian:12');
    expect(feeds.get('nvd')).toMatchObject({ bundled: true, basis: 'published' });
  });

  it('one failing source does not stop the next, and records read before a failure stay stored', async () => {
    const repos = createRepositories(db());
    server.up = false;
    const result = await syncFeedSources({
      sources: [server.url, path.join(BUNDLED_FEEDS_DIR, 'epss')],
      repos,
    });
    expect(result.sources.map((s) => s.status)).toEqual(['failed', 'ok']);
    expect(result.sources[0].fallbackLocation).toBeUndefined();
    expect(result.sources[1].new).toBeGreaterThan(0);
    expect((await repos.advisories.count()).enrichments).toBe(result.sources[1].new);
  });
});
