-- Covering indexes for the coverage metrics (src/db/repositories/metrics-queries.ts), so a team's
-- numbers are read from index-only scans instead of one heap page per finding. Partial and with
-- INCLUDE columns, which schema.prisma cannot express: they are hand-written here.

-- Open findings per host: severity, KEV, due date and first-seen time (coverage, bands, age, overdue).
CREATE INDEX "Finding_open_hostId_metrics_idx" ON "Finding" ("hostId")
  INCLUDE ("severity", "kev", "slaDueAt", "firstSeenAt") WHERE "status" = 'open';

-- Findings that came due in a period (SLA compliance).
CREATE INDEX "Finding_slaDueAt_metrics_idx" ON "Finding" ("slaDueAt")
  INCLUDE ("hostId", "status", "severity", "resolvedAt") WHERE "slaDueAt" IS NOT NULL;

-- Findings fixed in a period (time to remediate, fixed this week).
CREATE INDEX "Finding_fixed_resolvedAt_metrics_idx" ON "Finding" ("resolvedAt")
  INCLUDE ("hostId", "severity", "firstSeenAt") WHERE "status" = 'fixed';
