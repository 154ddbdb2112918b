-- AlterTable
ALTER TABLE "Host" ADD COLUMN     "lastCollectAttemptAt" TIMESTAMPTZ(3),
ADD COLUMN     "lastCollectError" TEXT;

-- CreateTable
CREATE TABLE "FeedFreshness" (
    "feed" TEXT NOT NULL,
    "asOf" TIMESTAMPTZ(3) NOT NULL,
    "basis" TEXT NOT NULL,
    "bundled" BOOLEAN NOT NULL DEFAULT false,
    "checkedAt" TIMESTAMPTZ(3),
    "location" TEXT NOT NULL,
    "importedAt" TIMESTAMPTZ(3) NOT NULL,
    "ecosystems" TEXT[] DEFAULT ARRAY[]::TEXT[],

    CONSTRAINT "FeedFreshness_pkey" PRIMARY KEY ("feed")
);

-- Data imported before feed dates were recorded: an estimate from what is stored, marked as such,
-- never newer than the data can be (advisories: when they were last written; enrichment: its own
-- newest date). The next sync of each feed replaces it with the feed's real date.
INSERT INTO "FeedFreshness" ("feed", "asOf", "basis", "location", "importedAt", "ecosystems")
SELECT CASE WHEN a.source = 'debian-tracker' THEN 'debian-tracker'
            ELSE 'osv:' || split_part(ap.ecosystem, ':', 1) END,
       MAX(a."updatedAt"), 'estimated', 'imported before feed dates were recorded', now(),
       ARRAY_AGG(DISTINCT ap.ecosystem ORDER BY ap.ecosystem)
FROM "AffectedPackage" ap JOIN "Advisory" a ON a.id = ap."advisoryId"
WHERE a.source IN ('debian-tracker', 'osv')
GROUP BY 1;

INSERT INTO "FeedFreshness" ("feed", "asOf", "basis", "location", "importedAt")
SELECT x.feed, x.as_of, 'estimated', 'imported before feed dates were recorded', now()
FROM (
    SELECT 'kev' AS feed, MAX("kevDateAdded")::timestamp AT TIME ZONE 'UTC' AS as_of FROM "CveEnrichment"
    UNION ALL
    SELECT 'epss', MAX("epssDate")::timestamp AT TIME ZONE 'UTC' FROM "CveEnrichment"
    UNION ALL
    SELECT 'nvd', MAX("nvdModified") FROM "CveEnrichment" WHERE "nvdModified" > 'epoch'::timestamptz
) x
WHERE x.as_of IS NOT NULL;
