/**
 * AdvisoryRepository (the PostgreSQL FeedSink) against its contract, on both backends. The oracle
 * is test/support/memory-feed-sink.ts: every batch goes to both sinks and their answers must agree
 * (new / changed / unchanged / withdrawn), then the rows read back must hash like what was written.
 * The records are the real feed fixtures, parsed by the real parsers.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, expect, it } from 'vitest';
import { advisoryContentHash } from '../../../src/core/content-hash.js';
import type {
  AdvisoryUpsertResult,
  EnrichmentItems,
  EnrichmentKind,
  EnrichmentUpsertResult,
} from '../../../src/core/feed-sink.js';
import type { Advisory } from '../../../src/core/model.js';
import { AdvisoryRepository } from '../../../src/db/repositories/advisory-repository.js';
import { parseTrackerJson } from '../../../src/feeds/debian-tracker/parse.js';
import { parseYamlText } from '../../../src/feeds/document.js';
import { parseKevCatalog } from '../../../src/feeds/kev/parse.js';
import { parseLvfsMetadata } from '../../../src/feeds/lvfs/parse.js';
import { parseNvdDocument } from '../../../src/feeds/nvd/parse.js';
import { parseOsvRecord } from '../../../src/feeds/osv/parse.js';
import { syncFeeds } from '../../../src/feeds/sync.js';
import { forEachBackend } from '../../support/db.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/feeds');
const AS_OF = new Date('2025-08-25T00:00:00Z');

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

/** Every advisory of the OSV, tracker and LVFS fixtures, as the parsers make them. */
async function realAdvisories(): Promise<Advisory[]> {
  const out: Advisory[] = [];
  for (const file of await files(join(FIXTURES, 'osv'))) {
    const text = await readFile(file, 'utf8');
    const raw = file.endsWith('.yaml') ? parseYamlText(text) : (JSON.parse(text) as unknown);
    const { advisory } = parseOsvRecord(raw, file);
    if (advisory) out.push(advisory);
  }
  for (const file of await files(join(FIXTURES, 'debian-tracker'))) {
    if (!file.endsWith('.json')) continue;
    const raw = JSON.parse(await readFile(file, 'utf8')) as unknown;
    out.push(...parseTrackerJson(raw, file, AS_OF).advisories);
  }
  // LVFS firmware advisories: source `lvfs`, GUIDs as package names, `fwupd:<format>` ecosystems.
  const metainfo = join(FIXTURES, '../firmware/lvfs/dell-latitude-7390-2in1.firmware.metainfo.xml');
  const lvfs = parseLvfsMetadata(await readFile(metainfo, 'utf8'), metainfo, AS_OF).advisories;
  if (lvfs.length !== 1) throw new Error(`expected 1 LVFS advisory from ${metainfo}`);
  out.push(...lvfs);
  return out;
}

async function kevItems(): Promise<EnrichmentItems['kev'][]> {
  const raw = JSON.parse(
    await readFile(join(FIXTURES, 'kev/known_exploited_vulnerabilities.json'), 'utf8'),
  ) as unknown;
  return parseKevCatalog(raw, 'kev').items;
}

async function nvdItem(): Promise<EnrichmentItems['nvd']> {
  const raw = JSON.parse(
    await readFile(join(FIXTURES, 'nvd/CVE-2023-4911.fkie-cad.json'), 'utf8'),
  ) as unknown;
  const [item] = parseNvdDocument(raw, 'nvd').items;
  if (!item) throw new Error('the NVD fixture parsed to nothing');
  return item;
}

const sortAdv = (r: AdvisoryUpsertResult) => ({
  new: [...r.new].sort(),
  changed: [...r.changed].sort(),
  unchanged: r.unchanged,
  withdrawn: [...r.withdrawn].sort(),
});
const sortEnr = (r: EnrichmentUpsertResult) => ({
  new: [...r.new].sort(),
  changed: [...r.changed].sort(),
  unchanged: r.unchanged,
});

forEachBackend('advisory-repository', (db) => {
  let repo: AdvisoryRepository;
  let oracle: MemoryFeedSink;

  beforeEach(async () => {
    const prisma = db().prisma;
    await prisma.affectedPackage.deleteMany();
    await prisma.advisory.deleteMany();
    await prisma.cveEnrichment.deleteMany();
    await prisma.feedState.deleteMany();
    repo = new AdvisoryRepository(prisma);
    oracle = new MemoryFeedSink();
  });

  /** Sends one batch to the repository and to the oracle; their answers must agree. */
  async function upsertBoth(batch: Advisory[]): Promise<AdvisoryUpsertResult> {
    const got = await repo.upsertAdvisories(structuredClone(batch));
    const want = await oracle.upsertAdvisories(structuredClone(batch));
    expect(sortAdv(got)).toEqual(sortAdv(want));
    return got;
  }

  async function enrichBoth<K extends EnrichmentKind>(
    kind: K,
    batch: EnrichmentItems[K][],
  ): Promise<EnrichmentUpsertResult> {
    const got = await repo.upsertEnrichment(kind, structuredClone(batch));
    const want = await oracle.upsertEnrichment(kind, structuredClone(batch));
    expect(sortEnr(got)).toEqual(sortEnr(want));
    return got;
  }

  /** Everything stored, read back through the same query matching uses. */
  async function readBack(): Promise<Map<string, Advisory>> {
    const ecosystems = await db().prisma.affectedPackage.findMany({
      distinct: ['ecosystem'],
      select: { ecosystem: true },
    });
    const all = await repo.findForEcosystems(ecosystems.map((e) => e.ecosystem));
    return new Map(all.map((a) => [a.id, a]));
  }

  it('stores new advisories and reads them back with the same content; a re-import changes nothing', async () => {
    const advisories = await realAdvisories();
    expect(advisories.length).toBeGreaterThan(20);
    const first = await upsertBoth(advisories);
    expect(first.new).toHaveLength(advisories.length);

    const stored = await readBack();
    for (const a of advisories.filter((x) => x.affected.length > 0)) {
      const back = stored.get(a.id);
      expect(back, a.id).toBeDefined();
      expect(advisoryContentHash(back!), a.id).toBe(advisoryContentHash(a));
      expect(back!.modified.getTime()).toBe(a.modified.getTime());
    }
    const rows = await db().prisma.affectedPackage.count();
    expect(rows).toBe(advisories.reduce((n, a) => n + a.affected.length, 0));

    const again = await upsertBoth(advisories);
    expect(again).toMatchObject({ new: [], changed: [], withdrawn: [], unchanged: advisories.length });
    // a re-stamped record (only `modified` differs) is not news either
    const restamped = advisories.map((a) => ({
      ...a,
      modified: new Date(a.modified.getTime() + 86_400_000),
    }));
    expect(await upsertBoth(restamped)).toMatchObject({ new: [], changed: [] });
    expect(await db().prisma.affectedPackage.count()).toBe(rows);
  });

  it('a changed advisory replaces its affected entries; others keep theirs', async () => {
    const advisories = await realAdvisories();
    await upsertBoth(advisories);
    const target = advisories.find((a) => a.affected.length >= 2 && a.affected[0].ranges.length > 0)!;
    const other = advisories.find((a) => a.id !== target.id && a.affected.length > 0)!;
    const otherRows = await db().prisma.affectedPackage.count({ where: { advisoryId: other.id } });

    const changed = structuredClone(target);
    changed.affected = changed.affected.slice(0, 1);
    changed.affected[0].ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '99.0-1' }] }];
    changed.summary = `${changed.summary} (updated)`;
    const result = await upsertBoth([changed]);
    expect(result).toMatchObject({ new: [], changed: [target.id], unchanged: 0, withdrawn: [] });

    const rows = await db().prisma.affectedPackage.findMany({ where: { advisoryId: target.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0].fixedVersions).toEqual(['99.0-1']);
    const back = (await readBack()).get(target.id)!;
    expect(advisoryContentHash(back)).toBe(advisoryContentHash(changed));
    expect(await db().prisma.affectedPackage.count({ where: { advisoryId: other.id } })).toBe(otherRows);
    // the old content again is a change back, not a new record
    expect(await upsertBoth([target])).toMatchObject({ new: [], changed: [target.id] });
  });

  it('reports withdrawals once: on the change that sets it and for a record new and withdrawn', async () => {
    const [a, b] = (await realAdvisories()).filter((x) => x.withdrawn === undefined);
    await upsertBoth([a]);
    const withdrawnA = { ...a, withdrawn: new Date('2025-08-20T10:00:00Z') };
    expect(await upsertBoth([withdrawnA])).toMatchObject({ changed: [a.id], withdrawn: [a.id] });
    expect(await upsertBoth([withdrawnA])).toMatchObject({ changed: [], withdrawn: [], unchanged: 1 });
    // a later withdrawal date is a change, but not a new withdrawal
    const later = { ...withdrawnA, withdrawn: new Date('2025-08-21T10:00:00Z') };
    expect(await upsertBoth([later])).toMatchObject({ changed: [a.id], withdrawn: [] });
    const withdrawnB = { ...b, withdrawn: new Date('2025-08-20T10:00:00Z') };
    expect(await upsertBoth([withdrawnB])).toMatchObject({ new: [b.id], withdrawn: [b.id] });
    const row = await db().prisma.advisory.findUnique({ where: { id: b.id } });
    expect(row?.withdrawn?.toISOString()).toBe('2025-08-20T10:00:00.000Z');
  });

  it('one id twice in a batch: the last one is stored', async () => {
    const [a] = await realAdvisories();
    const second = { ...a, summary: 'second' };
    const result = await repo.upsertAdvisories([a, second]);
    expect(result.new).toEqual([a.id]);
    const row = await db().prisma.advisory.findUnique({ where: { id: a.id } });
    expect(row?.summary).toBe('second');
  });

  it('text PostgreSQL cannot store (NUL characters) does not fail the batch, and re-imports as unchanged', async () => {
    const advisories = (await realAdvisories()).slice(0, 5);
    const hostile = structuredClone(advisories[0]);
    hostile.summary = 'before\u0000after';
    hostile.details = 'x\u0000y';
    hostile.references = [{ type: 'WEB', url: 'https://example.org/\u0000' }];
    const batch = [hostile, ...advisories.slice(1)];
    expect((await upsertBoth(batch)).new).toHaveLength(5);
    const row = await db().prisma.advisory.findUnique({ where: { id: hostile.id } });
    expect(row?.summary).toBe('before\uFFFDafter');
    expect(await upsertBoth(batch)).toMatchObject({ new: [], changed: [], unchanged: 5 });
  });

  it('a batch larger than one insert chunk keeps every affected entry', async () => {
    const base = (await realAdvisories()).find((a) => a.affected.length >= 2)!;
    const many = Array.from({ length: 1_200 }, (_, i) => ({
      ...structuredClone(base),
      id: `${base.id}-copy${i}`,
    }));
    const result = await upsertBoth(many);
    expect(result.new).toHaveLength(1_200);
    expect(await db().prisma.affectedPackage.count()).toBe(1_200 * base.affected.length);
  });

  it('KEV, EPSS and NVD enrichment: new, changed, unchanged per feed, without clearing the others', async () => {
    const kev = await kevItems();
    expect(kev.length).toBe(1404);
    expect((await enrichBoth('kev', kev)).new).toHaveLength(1404);
    expect(await enrichBoth('kev', kev)).toMatchObject({ new: [], changed: [], unchanged: 1404 });

    const cve = 'CVE-2023-4911';
    const inKev = kev.find((k) => k.cve === cve)!;
    const epss = { cve, epss: { score: 0.80735, percentile: 0.99099, date: '2025-08-15' } };
    // known from KEV, but new to EPSS
    expect(await enrichBoth('epss', [epss])).toMatchObject({ new: [cve], changed: [] });
    expect(await enrichBoth('epss', [epss])).toMatchObject({ unchanged: 1 });
    const nextDay = { cve, epss: { ...epss.epss, date: '2025-08-16' } };
    expect(await enrichBoth('epss', [nextDay])).toMatchObject({ changed: [cve] });

    const nvd = await nvdItem();
    expect(await enrichBoth('nvd', [nvd])).toMatchObject({ new: [cve] });
    expect(await enrichBoth('nvd', [nvd])).toMatchObject({ unchanged: 1 });
    const remodified = { ...nvd, lastModified: '2025-09-01T00:00:00.000Z' };
    expect(await enrichBoth('nvd', [remodified])).toMatchObject({ changed: [cve] });
    const rejected = { ...remodified, cvss: [], rejected: true };
    expect(await enrichBoth('nvd', [rejected])).toMatchObject({ changed: [cve] });
    expect(await enrichBoth('nvd', [rejected])).toMatchObject({ unchanged: 1 });

    const changedKev = { ...inKev, kev: { ...inKev.kev, knownRansomware: !inKev.kev.knownRansomware } };
    expect(await enrichBoth('kev', [changedKev])).toMatchObject({ changed: [cve] });

    const merged = (await repo.enrichmentFor([cve, 'CVE-1999-0001'])).get(cve);
    expect(merged).toEqual({
      cve,
      cvss: [],
      rejected: true,
      kev: changedKev.kev,
      epss: nextDay.epss,
    });
    expect(await repo.count()).toEqual({ advisories: 0, enrichments: 1404 });
  });

  it('NVD scores are stored whole and the summary score is NVD’s own v3.x', async () => {
    const nvd = await nvdItem();
    await enrichBoth('nvd', [nvd]);
    const row = await db().prisma.cveEnrichment.findUnique({ where: { cve: nvd.cve } });
    const primary = nvd.cvss.find((s) => s.version.startsWith('3') && s.primary !== false) ?? nvd.cvss[0];
    expect(row?.cvssScore).toBe(primary.baseScore);
    expect(row?.cvssVector).toBe(primary.vector);
    // NVD writes UTC times without a zone designator
    expect(nvd.lastModified).toMatch(/T[\d:.]+$/);
    expect(row?.nvdModified?.toISOString()).toBe(new Date(`${nvd.lastModified}Z`).toISOString());
    expect((await repo.enrichmentFor([nvd.cve])).get(nvd.cve)?.cvss).toEqual(nvd.cvss);
  });

  it('feed state: round trip, replaced whole, and a failure keeps the validators', async () => {
    const url = 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json';
    expect(await repo.getFeedState(url)).toBeUndefined();
    // a source that has only failed has no state to resume from
    await repo.recordFeedFailure(url, 'connection refused');
    expect(await repo.getFeedState(url)).toBeUndefined();
    expect(await repo.feedStatus(url)).toMatchObject({
      lastStatus: 'error',
      lastError: 'connection refused',
    });

    const state = { etag: '"abc"', lastModified: 'Mon, 25 Aug 2025 12:00:00 GMT' };
    await repo.setFeedState(url, state);
    await oracle.setFeedState(url, state);
    expect(await repo.getFeedState(url)).toEqual(await oracle.getFeedState(url));
    expect(await repo.feedStatus(url)).toMatchObject({ lastStatus: 'ok', lastError: null });

    await repo.recordFeedFailure(url, 'x'.repeat(5_000));
    expect(await repo.getFeedState(url)).toEqual(state);
    expect((await repo.feedStatus(url))?.lastError).toHaveLength(2_000);

    await repo.setFeedState(url, { cursor: '2025-08-25T00:00:00.000Z' });
    await oracle.setFeedState(url, { cursor: '2025-08-25T00:00:00.000Z' });
    expect(await repo.getFeedState(url)).toEqual(await oracle.getFeedState(url));
    expect(await repo.getFeedState('https://example.org/other')).toBeUndefined();
  });

  it('syncFeeds over every fixture gives the same summary as the in-memory sink, twice', async () => {
    for (let round = 0; round < 2; round++) {
      const [got] = await syncFeeds([FIXTURES], repo, { limits: { batchSize: 200 } });
      const [want] = await syncFeeds([FIXTURES], oracle, { limits: { batchSize: 200 } });
      expect(got).toEqual(want);
      expect(got?.rejectedCount).toBe(0);
      if (round === 1) expect(got).toMatchObject({ new: 0, changed: 0, withdrawn: 0 });
    }
    expect(await repo.count()).toEqual({
      advisories: oracle.advisories.size,
      enrichments: new Set([
        ...oracle.enrichment.kev.keys(),
        ...oracle.enrichment.epss.keys(),
        ...oracle.enrichment.nvd.keys(),
      ]).size,
    });
  });
});
