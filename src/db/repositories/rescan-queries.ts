/**
 * What a feed sync touched, in terms of hosts: the input of incremental re-matching. A host needs a
 * re-match when an advisory naming one of its packages was added or changed, or when the
 * enrichment (KEV, EPSS, NVD) of a CVE it has a finding for changed.
 */
import type { DbClient } from '../client.js';

export class RescanQueries {
  constructor(private readonly prisma: DbClient) {}

  /** Names of hosts whose latest inventory is affected by changes stored at or after `since`. */
  async hostsAffectedSince(since: Date): Promise<string[]> {
    const rows = await this.prisma.$queryRaw<{ name: string }[]>`
      WITH latest AS (
        SELECT DISTINCT ON (s."hostId") s.id, s."hostId"
        FROM "InventorySnapshot" s
        ORDER BY s."hostId", s."collectedAt" DESC
      ),
      changed_packages AS (
        SELECT DISTINCT ap.package
        FROM "AffectedPackage" ap
        JOIN "Advisory" a ON a.id = ap."advisoryId"
        WHERE a."updatedAt" >= ${since}
      ),
      by_package AS (
        SELECT DISTINCT l."hostId"
        FROM latest l
        JOIN "InstalledPackage" p ON p."snapshotId" = l.id
        WHERE p.name IN (SELECT package FROM changed_packages)
           OR p."sourceName" IN (SELECT package FROM changed_packages)
      ),
      by_third_party AS (
        SELECT DISTINCT l."hostId"
        FROM latest l
        JOIN "ThirdPartyPackage" t ON t."snapshotId" = l.id
        WHERE t.name IN (SELECT package FROM changed_packages)
           -- PyPI names as PEP 503 compares them
           OR (t.ecosystem = 'PyPI' AND regexp_replace(lower(t.name), '[-_.]+', '-', 'g') IN
                (SELECT regexp_replace(lower(package), '[-_.]+', '-', 'g') FROM changed_packages))
      ),
      by_firmware AS (
        SELECT DISTINCT s."hostId"
        FROM latest l
        JOIN "InventorySnapshot" s ON s.id = l.id
        CROSS JOIN LATERAL jsonb_array_elements(
          CASE WHEN jsonb_typeof(s.firmware) = 'array' THEN s.firmware ELSE '[]'::jsonb END) d
        CROSS JOIN LATERAL jsonb_array_elements_text(
          CASE WHEN jsonb_typeof(d->'guids') = 'array' THEN d->'guids' ELSE '[]'::jsonb END) g
        WHERE lower(g) IN (SELECT lower(package) FROM changed_packages)
      ),
      by_cve AS (
        SELECT DISTINCT f."hostId"
        FROM "Finding" f
        JOIN "CveEnrichment" e ON e.cve = ANY (f.cves)
        WHERE e."updatedAt" >= ${since} AND f.status <> 'fixed'
      )
      SELECT h.name FROM "Host" h
      WHERE h."retiredAt" IS NULL AND h.id IN (
        SELECT "hostId" FROM by_package UNION SELECT "hostId" FROM by_third_party
        UNION SELECT "hostId" FROM by_firmware UNION SELECT "hostId" FROM by_cve)
      ORDER BY h.name`;
    return rows.map((r) => r.name);
  }
}
