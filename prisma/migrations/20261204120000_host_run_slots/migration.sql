-- Ring concurrency as a constraint: a running host holds one of its ring's slots
-- (0 .. concurrency-1), and no two running hosts of a ring hold the same slot. A claim is then one
-- statement that needs no ring lock (src/db/repositories/deployment-repository.ts, claimNextHost).
-- The index is partial, which schema.prisma cannot express: it is hand-written here.
ALTER TABLE "HostRun" ADD COLUMN "slot" INTEGER;

-- Hosts running when this migration runs keep their place: slots in plan order.
UPDATE "HostRun" h SET "slot" = numbered.n
FROM (
  SELECT id, (row_number() OVER (PARTITION BY "ringId" ORDER BY position) - 1)::int AS n
  FROM "HostRun" WHERE state = 'running'
) AS numbered
WHERE h.id = numbered.id;

CREATE UNIQUE INDEX "HostRun_running_slot_key" ON "HostRun" ("ringId", "slot")
  WHERE state = 'running' AND "slot" IS NOT NULL;
