/**
 * Advisories and CVE enrichment in PostgreSQL: the FeedSink that `feeds sync` writes into, and
 * the reads that matching needs. Re-importing the same content writes nothing (content hashes);
 * a changed advisory replaces its affected entries in the same transaction, so a reader never
 * sees an advisory without them.
 */
import { advisoryContentHash, canonicalJson } from '../../core/content-hash.js';
import type {
  AdvisoryUpsertResult,
  EnrichmentItems,
  EnrichmentKind,
  EnrichmentUpsertResult,
  FeedSink,
  FeedState,
} from '../../core/feed-sink.js';
import type {
  AffectedEntry,
  AffectedRange,
  AffectedStatus,
  Advisory,
  CveEnrichment,
  CvssScore,
  SeverityVector,
} from '../../core/model.js';
import { freshnessBasis, type FeedFreshnessRecord } from '../../core/freshness/feeds.js';
import type { DbClient } from '../client.js';
import { Prisma } from '../generated/client.js';

const STATUS_TO_DB = {
  affected: 'affected',
  'not-affected': 'not_affected',
  unfixed: 'unfixed',
  'no-dsa': 'no_dsa',
  ignored: 'ignored',
  postponed: 'postponed',
} as const satisfies Record<AffectedStatus, string>;

const SOURCE_TO_DB = {
  osv: 'osv',
  'debian-tracker': 'debian_tracker',
  'alpine-secdb': 'alpine_secdb',
  lvfs: 'lvfs',
} as const;

/** The fixed versions named by an entry's ranges (for indexes and display). */
export function fixedVersionsOf(entry: AffectedEntry): string[] {
  const out = new Set<string>();
  for (const range of entry.ranges)
    for (const event of range.events) if ('fixed' in event) out.add(event.fixed);
  return [...out];
}

function dateOnly(iso: string): Date {
  return new Date(`${iso.slice(0, 10)}T00:00:00Z`);
}

function isoDate(d: Date | null): string | undefined {
  return d ? d.toISOString().slice(0, 10) : undefined;
}

/**
 * PostgreSQL cannot store U+0000 in text or jsonb ("invalid byte sequence for encoding UTF8: 0x00"):
 * one such character in a feed would fail its whole batch. It is stored as U+FFFD instead; the
 * content hash is of the record as the feed gave it, so a re-import is still unchanged.
 */
function pgSafe<T>(value: T): T {
  if (typeof value === 'string')
    return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => pgSafe(v)) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[pgSafe(k)] = pgSafe(v);
    return out as T;
  }
  return value;
}

/**
 * NVD's lastModified ("2024-11-21T08:40:06.803", UTC without a zone designator) as a Date.
 * Absent or unreadable: the epoch, which still marks the CVE as known to NVD.
 */
function nvdTime(value: string | undefined): Date {
  if (value === undefined) return new Date(0);
  const zoned = /(?:Z|[+-]\d{2}:?\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`;
  const d = new Date(zoned);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

/** The outcome of a source's syncs (beside the FeedState a sync resumes from). */
export interface FeedStatus {
  /** When the source was last imported completely; null when it never was. */
  syncedAt: Date | null;
  lastStatus: 'ok' | 'error' | null;
  lastError: string | null;
  updatedAt: Date;
}

export class AdvisoryRepository implements FeedSink {
  constructor(private readonly prisma: DbClient) {}

  async upsertAdvisories(batch: Advisory[]): Promise<AdvisoryUpsertResult> {
    const result: AdvisoryUpsertResult = { new: [], changed: [], unchanged: 0, withdrawn: [] };
    if (batch.length === 0) return result;
    // one record per id within a batch: the last one wins, as it would one by one
    const byId = new Map(batch.map((a) => [a.id, a]));
    const existing = await this.prisma.advisory.findMany({
      where: { id: { in: [...byId.keys()] } },
      select: { id: true, contentHash: true, withdrawn: true },
    });
    const before = new Map(existing.map((e) => [e.id, e]));
    const writes: { advisory: Advisory; hash: string; isNew: boolean }[] = [];
    for (const advisory of byId.values()) {
      const hash = advisoryContentHash(advisory);
      const prev = before.get(advisory.id);
      if (prev && prev.contentHash === hash) {
        result.unchanged++;
        continue;
      }
      writes.push({ advisory, hash, isNew: !prev });
      (prev ? result.changed : result.new).push(advisory.id);
      if (advisory.withdrawn && !prev?.withdrawn) result.withdrawn.push(advisory.id);
    }
    if (writes.length === 0) return result;
    await this.prisma.$transaction(
      async (tx) => {
        const changedIds = writes.filter((w) => !w.isNew).map((w) => w.advisory.id);
        if (changedIds.length > 0) {
          await tx.affectedPackage.deleteMany({ where: { advisoryId: { in: changedIds } } });
        }
        const created: Prisma.AdvisoryCreateManyInput[] = [];
        for (const { advisory, hash, isNew } of writes) {
          const data = pgSafe({
            source: SOURCE_TO_DB[advisory.source],
            aliases: advisory.aliases,
            cves: advisory.cves,
            published: advisory.published ?? null,
            modified: advisory.modified,
            withdrawn: advisory.withdrawn ?? null,
            summary: advisory.summary,
            details: advisory.details ?? null,
            references: advisory.references,
            severity: advisory.severity as unknown as Prisma.InputJsonValue,
            contentHash: hash,
          });
          if (isNew) created.push({ id: advisory.id, ...data });
          else await tx.advisory.update({ where: { id: advisory.id }, data });
        }
        // new advisories in multi-row INSERTs (13 columns each: well below 65,535 bind parameters)
        for (let i = 0; i < created.length; i += 2_000) {
          await tx.advisory.createMany({ data: created.slice(i, i + 2_000) });
        }
        const affectedRows = writes.flatMap(({ advisory }) =>
          advisory.affected.map((entry) =>
            pgSafe({
              advisoryId: advisory.id,
              ecosystem: entry.ecosystem,
              package: entry.package,
              nameKind: entry.nameKind,
              status: STATUS_TO_DB[entry.status],
              ranges: entry.ranges as unknown as Prisma.InputJsonValue,
              versions: entry.versions,
              fixedVersions: fixedVersionsOf(entry),
              binaries: entry.binaries ?? [],
              urgency: entry.urgency ?? null,
            }),
          ),
        );
        for (let i = 0; i < affectedRows.length; i += 2_000) {
          await tx.affectedPackage.createMany({ data: affectedRows.slice(i, i + 2_000) });
        }
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    return result;
  }

  async upsertEnrichment<K extends EnrichmentKind>(
    kind: K,
    batch: EnrichmentItems[K][],
  ): Promise<EnrichmentUpsertResult> {
    const result: EnrichmentUpsertResult = { new: [], changed: [], unchanged: 0 };
    if (batch.length === 0) return result;
    const byCve = new Map(batch.map((item) => [item.cve, item]));
    const rows = await this.prisma.cveEnrichment.findMany({ where: { cve: { in: [...byCve.keys()] } } });
    const before = new Map(rows.map((r) => [r.cve, r]));
    const writes: { cve: string; data: Prisma.CveEnrichmentUncheckedCreateInput; isNew: boolean }[] = [];
    for (const [cve, item] of byCve) {
      const prev = before.get(cve);
      const data = enrichmentData(kind, item);
      const same = prev !== undefined && sameEnrichment(kind, prev, data);
      // a CVE known only from another feed is "new" to this one when this feed had nothing for it
      const knownToThisFeed = prev !== undefined && hasKind(kind, prev);
      if (same) {
        result.unchanged++;
        continue;
      }
      (knownToThisFeed ? result.changed : result.new).push(cve);
      writes.push({ cve, data, isNew: prev === undefined });
    }
    if (writes.length === 0) return result;
    await this.prisma.$transaction(
      async (tx) => {
        const created = writes.filter((w) => w.isNew).map((w) => w.data);
        for (let i = 0; i < created.length; i += 2_000) {
          await tx.cveEnrichment.createMany({ data: created.slice(i, i + 2_000), skipDuplicates: true });
        }
        for (const w of writes.filter((x) => !x.isNew)) {
          await tx.cveEnrichment.update({ where: { cve: w.cve }, data: w.data });
        }
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
    return result;
  }

  /** State saved by the last complete import; undefined when the source never completed one. */
  async getFeedState(source: string): Promise<FeedState | undefined> {
    const row = await this.prisma.feedState.findUnique({ where: { source } });
    if (!row?.syncedAt) return undefined;
    const state: FeedState = {};
    if (row.etag) state.etag = row.etag;
    if (row.lastModified) state.lastModified = row.lastModified;
    if (row.cursor) state.cursor = row.cursor;
    return state;
  }

  async setFeedState(source: string, state: FeedState): Promise<void> {
    const data = {
      etag: state.etag ?? null,
      lastModified: state.lastModified ?? null,
      cursor: state.cursor ?? null,
      syncedAt: new Date(),
      lastStatus: 'ok',
      lastError: null,
    };
    await this.prisma.feedState.upsert({ where: { source }, create: { source, ...data }, update: data });
  }

  /** Records a failed sync of a source without touching its validators (the next run retries). */
  async recordFeedFailure(source: string, error: string): Promise<void> {
    const data = { lastStatus: 'error', lastError: pgSafe(error.slice(0, 2_000)) };
    await this.prisma.feedState.upsert({ where: { source }, create: { source, ...data }, update: data });
  }

  /** How the last sync of `source` went: when it last completed, and the last outcome. */
  async feedStatus(source: string): Promise<FeedStatus | undefined> {
    const row = await this.prisma.feedState.findUnique({
      where: { source },
      select: { syncedAt: true, lastStatus: true, lastError: true, updatedAt: true },
    });
    if (!row) return undefined;
    return {
      syncedAt: row.syncedAt,
      lastStatus: row.lastStatus === 'ok' || row.lastStatus === 'error' ? row.lastStatus : null,
      lastError: row.lastError,
      updatedAt: row.updatedAt,
    };
  }

  /**
   * Records what a completed import of a source showed of each feed: its date, where it came from,
   * and the ecosystems it gave advisories for (added to those known before: stored advisories are
   * never removed). The latest import's date replaces the earlier one, even when it is older.
   */
  async recordFeedFreshness(records: readonly FeedFreshnessRecord[], importedAt: Date): Promise<void> {
    for (const r of records) {
      const data = {
        asOf: r.asOf,
        basis: r.basis,
        bundled: r.bundled,
        checkedAt: r.checkedAt,
        location: pgSafe(r.location.slice(0, 2_000)),
        importedAt,
      };
      await this.prisma.$executeRaw`
        INSERT INTO "FeedFreshness" ("feed", "asOf", "basis", "bundled", "checkedAt", "location", "importedAt", "ecosystems")
        VALUES (${r.feed}, ${data.asOf}, ${data.basis}, ${data.bundled}, ${data.checkedAt}, ${data.location},
          ${importedAt}, ${[...r.ecosystems]}::text[])
        ON CONFLICT ("feed") DO UPDATE SET
          "asOf" = EXCLUDED."asOf", "basis" = EXCLUDED."basis", "bundled" = EXCLUDED."bundled",
          "checkedAt" = EXCLUDED."checkedAt", "location" = EXCLUDED."location",
          "importedAt" = EXCLUDED."importedAt",
          "ecosystems" = ARRAY(
            SELECT DISTINCT e FROM unnest(COALESCE("FeedFreshness"."ecosystems", '{}') || EXCLUDED."ecosystems") AS e
            ORDER BY e)`;
    }
  }

  /**
   * A URL answered "not modified": the feeds last imported from it are confirmed current as of `at`
   * (their data's date stays).
   */
  async confirmFeedFreshness(location: string, at: Date): Promise<void> {
    await this.prisma.feedFreshness.updateMany({ where: { location }, data: { checkedAt: at } });
  }

  /** Every feed's freshness record. */
  async feedFreshness(): Promise<FeedFreshnessRecord[]> {
    const rows = await this.prisma.feedFreshness.findMany({ orderBy: { feed: 'asc' } });
    return rows.map((r) => ({
      feed: r.feed,
      asOf: r.asOf,
      basis: freshnessBasis(r.basis),
      bundled: r.bundled,
      checkedAt: r.checkedAt,
      location: r.location,
      ecosystems: r.ecosystems,
    }));
  }

  async count(): Promise<{ advisories: number; enrichments: number }> {
    const [advisories, enrichments] = await Promise.all([
      this.prisma.advisory.count(),
      this.prisma.cveEnrichment.count(),
    ]);
    return { advisories, enrichments };
  }

  /**
   * Every advisory with an affected entry in one of `ecosystems`, restricted to those entries.
   * When `packages` is given, only entries naming one of them (source or binary names).
   */
  async findForEcosystems(ecosystems: string[], packages?: Iterable<string>): Promise<Advisory[]> {
    if (ecosystems.length === 0) return [];
    const names = packages ? JSON.stringify([...new Set(packages)]) : null;
    return this
      .advisoriesWhere(Prisma.sql`ap.ecosystem = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(ecosystems)}::jsonb)))
          AND (${names}::jsonb IS NULL OR ap.package = ANY (ARRAY(SELECT jsonb_array_elements_text(${names}::jsonb))))`);
  }

  /**
   * Advisories of language packages by ecosystem and name, names compared as the ecosystem does
   * (PyPI: PEP 503 normalised, case-insensitive; the others as written). Only the entries naming
   * one of the packages are returned.
   */
  async findForPackages(ecosystem: string, names: Iterable<string>): Promise<Advisory[]> {
    const list = [...new Set(names)];
    if (list.length === 0) return [];
    if (ecosystem === 'PyPI') {
      const normalised = JSON.stringify([
        ...new Set(list.map((n) => n.replace(/[-_.]+/g, '-').toLowerCase())),
      ]);
      return this.advisoriesWhere(Prisma.sql`ap.ecosystem = 'PyPI'
          AND regexp_replace(lower(ap.package), '[-_.]+', '-', 'g') = ANY (ARRAY(SELECT jsonb_array_elements_text(${normalised}::jsonb)))`);
    }
    return this.findForEcosystems([ecosystem], list);
  }

  /** Firmware advisories (LVFS, ecosystem `fwupd[:<format>]`) naming one of these GUIDs. */
  async findFirmware(guids: Iterable<string>): Promise<Advisory[]> {
    const list = JSON.stringify([...new Set([...guids].map((g) => g.toLowerCase()))]);
    return this.advisoriesWhere(Prisma.sql`(ap.ecosystem = 'fwupd' OR ap.ecosystem LIKE 'fwupd:%')
          AND lower(ap.package) = ANY (ARRAY(SELECT jsonb_array_elements_text(${list}::jsonb)))`);
  }

  /** Advisories with the entries that pass `where` (over "AffectedPackage" ap), in entry order. */
  private async advisoriesWhere(where: Prisma.Sql): Promise<Advisory[]> {
    // one JSON text per advisory with its entries (in entry order): a fleet scan reads ~10^5 entries
    const rows = await this.prisma.$queryRaw<{ row: string }[]>`
      SELECT json_build_array(a.id, a.source, a.aliases, a.cves,
          (extract(epoch FROM a.published) * 1000)::bigint, (extract(epoch FROM a.modified) * 1000)::bigint,
          (extract(epoch FROM a.withdrawn) * 1000)::bigint, a.summary, a.details, a."references", a.severity,
          e.entries)::text AS row
      FROM (
        SELECT ap."advisoryId", min(ap.id) AS first,
          json_agg(json_build_array(ap.ecosystem, ap.package, ap."nameKind", ap.status, ap.ranges, ap.versions,
            ap.binaries, ap.urgency) ORDER BY ap.id) AS entries
        FROM "AffectedPackage" ap
        WHERE ${where}
        GROUP BY ap."advisoryId"
      ) e
      JOIN "Advisory" a ON a.id = e."advisoryId"
      ORDER BY e.first`;
    return rows.map(({ row }) => {
      const [
        id,
        source,
        aliases,
        cves,
        published,
        modified,
        withdrawn,
        summary,
        details,
        references,
        severity,
        entries,
      ] = JSON.parse(row) as AdvisoryRow;
      return {
        id,
        // the database labels are the domain values ("debian-tracker", "not-affected", ...)
        source,
        aliases,
        cves,
        ...(published !== null ? { published: new Date(published) } : {}),
        modified: new Date(modified),
        ...(withdrawn !== null ? { withdrawn: new Date(withdrawn) } : {}),
        summary,
        ...(details ? { details } : {}),
        references,
        severity,
        affected: entries.map(([ecosystem, pkg, nameKind, status, ranges, versions, binaries, urgency]) => ({
          ecosystem,
          package: pkg,
          nameKind,
          status,
          ranges,
          versions,
          ...(binaries.length > 0 ? { binaries } : {}),
          ...(urgency ? { urgency } : {}),
        })),
      };
    });
  }

  /** Enrichment for the given CVEs, keyed by CVE id. */
  async enrichmentFor(cves: Iterable<string>): Promise<Map<string, CveEnrichment>> {
    const ids = [...new Set(cves)];
    const out = new Map<string, CveEnrichment>();
    for (let i = 0; i < ids.length; i += 10_000) {
      const rows = await this.prisma.cveEnrichment.findMany({
        where: { cve: { in: ids.slice(i, i + 10_000) } },
      });
      for (const r of rows) {
        const e: CveEnrichment = { cve: r.cve, cvss: r.cvss as unknown as CvssScore[] };
        if (r.epssScore !== null && r.epssPercentile !== null)
          e.epss = { score: r.epssScore, percentile: r.epssPercentile, date: isoDate(r.epssDate) ?? '' };
        if (r.kev) e.kev = r.kev as unknown as CveEnrichment['kev'];
        if (r.rejected) e.rejected = true;
        out.set(r.cve, e);
      }
    }
    return out;
  }
}

/** An advisory as `findForEcosystems` reads it (times in epoch ms). */
type AdvisoryRow = [
  id: string,
  source: Advisory['source'],
  aliases: string[],
  cves: string[],
  published: number | null,
  modified: number,
  withdrawn: number | null,
  summary: string,
  details: string | null,
  references: Advisory['references'],
  severity: SeverityVector[],
  entries: [
    ecosystem: string,
    pkg: string,
    nameKind: AffectedEntry['nameKind'],
    status: AffectedStatus,
    ranges: AffectedRange[],
    versions: string[],
    binaries: string[],
    urgency: string | null,
  ][],
];

type EnrichmentRow = {
  cvss: Prisma.JsonValue;
  epssScore: number | null;
  epssPercentile: number | null;
  epssDate: Date | null;
  kev: Prisma.JsonValue;
  rejected: boolean;
  nvdModified: Date | null;
};

function hasKind(kind: EnrichmentKind, row: EnrichmentRow): boolean {
  switch (kind) {
    case 'kev':
      return row.kev !== null;
    case 'epss':
      return row.epssScore !== null;
    case 'nvd':
      return row.nvdModified !== null || (Array.isArray(row.cvss) && row.cvss.length > 0) || row.rejected;
  }
}

function enrichmentData<K extends EnrichmentKind>(
  kind: K,
  item: EnrichmentItems[K],
): Prisma.CveEnrichmentUncheckedCreateInput {
  const base = { cve: item.cve };
  if (kind === 'kev') {
    const { kev } = item as EnrichmentItems['kev'];
    return {
      ...base,
      kev: pgSafe(JSON.parse(canonicalJson(kev))) as Prisma.InputJsonValue,
      kevDateAdded: dateOnly(kev.dateAdded),
      kevDueDate: dateOnly(kev.dueDate),
      kevRansomware: kev.knownRansomware,
    };
  }
  if (kind === 'epss') {
    const { epss } = item as EnrichmentItems['epss'];
    return { ...base, epssScore: epss.score, epssPercentile: epss.percentile, epssDate: dateOnly(epss.date) };
  }
  const nvd = item as EnrichmentItems['nvd'];
  const primary = pickCvss(nvd.cvss);
  return {
    ...base,
    cvss: pgSafe(JSON.parse(canonicalJson(nvd.cvss))) as Prisma.InputJsonValue,
    cvssScore: primary?.baseScore ?? null,
    cvssVector: primary === undefined ? null : pgSafe(primary.vector),
    cvssVersion: primary?.version ?? null,
    rejected: nvd.rejected,
    nvdModified: nvdTime(nvd.lastModified),
  };
}

/** The score shown in summaries: NVD's own v3.x, else any v3.x, else v4.0, else v2. */
function pickCvss(scores: CvssScore[]): CvssScore | undefined {
  const order = (s: CvssScore): number =>
    (s.version.startsWith('3') ? 0 : s.version === '4.0' ? 2 : 4) + (s.primary === false ? 1 : 0);
  return [...scores].sort((a, b) => order(a) - order(b))[0];
}

function sameEnrichment(
  kind: EnrichmentKind,
  row: EnrichmentRow,
  data: Prisma.CveEnrichmentUncheckedCreateInput,
): boolean {
  switch (kind) {
    case 'kev':
      return row.kev !== null && canonicalJson(row.kev) === canonicalJson(data.kev);
    case 'epss':
      return (
        row.epssScore === data.epssScore &&
        row.epssPercentile === data.epssPercentile &&
        isoDate(row.epssDate) === isoDate(data.epssDate as Date)
      );
    case 'nvd':
      // like the content hash of the item: a new lastModified is a change too
      return (
        row.nvdModified !== null &&
        row.nvdModified.getTime() === (data.nvdModified as Date).getTime() &&
        canonicalJson(row.cvss) === canonicalJson(data.cvss) &&
        row.rejected === data.rejected
      );
  }
}
