-- Decisions as a ledger (src/db/repositories/change-repository.ts, src/core/policy/ledger.ts):
-- each decision belongs to a round of the change (a new round starts when the change waits for
-- approval again), and one decision of a kind per person and round is a unique index, so a double
-- click or two processes can never record the same decision twice. The click-count "dedupeKey"
-- it replaces is dropped. Requests ("request rollout") are decisions too.

-- AlterEnum
ALTER TYPE "DecisionKind" ADD VALUE 'request';

-- DropIndex
DROP INDEX "Decision_changeRequestId_actorId_kind_dedupeKey_key";

-- AlterTable: the round, and whether a request asked for the emergency lane
ALTER TABLE "ChangeRequest" ADD COLUMN     "round" INTEGER NOT NULL DEFAULT 1,
ALTER COLUMN "requestedBy" DROP NOT NULL;

ALTER TABLE "Decision" ADD COLUMN     "emergency" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "round" INTEGER NOT NULL DEFAULT 1;

-- Decisions recorded before: a person's repeated decisions of one kind (a re-approval after an
-- expiry) become successive rounds, and the change is in its latest round. Earlier approvals then
-- stop counting, which can only ask for an approval again, never count one twice.
UPDATE "Decision" d SET "round" = numbered.n
FROM (
  SELECT id, row_number() OVER (PARTITION BY "changeRequestId", "actorId", kind ORDER BY "createdAt", id)::int AS n
  FROM "Decision"
) AS numbered
WHERE d.id = numbered.id;

UPDATE "ChangeRequest" c SET "round" = latest.r
FROM (SELECT "changeRequestId", max("round") AS r FROM "Decision" GROUP BY "changeRequestId") AS latest
WHERE c.id = latest."changeRequestId";

ALTER TABLE "Decision" DROP COLUMN "dedupeKey";

-- Nobody requested the campaigns patchbot posted by itself.
UPDATE "ChangeRequest" SET "requestedBy" = NULL WHERE "requestedBy" = 'patchbot' AND "requestedVia" = 'system';

-- AlterTable: Teams channels bound to a team by `patch link` in the channel
ALTER TABLE "ChatDestination" ADD COLUMN     "linkedAt" TIMESTAMPTZ(3),
ADD COLUMN     "linkedBy" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Decision_changeRequestId_actorId_kind_round_key" ON "Decision"("changeRequestId", "actorId", "kind", "round");
