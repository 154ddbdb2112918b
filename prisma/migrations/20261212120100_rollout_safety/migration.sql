-- AlterTable
ALTER TABLE "HostRun" ADD COLUMN     "remoteJob" TEXT,
ADD COLUMN     "rollbackError" TEXT;

-- CreateTable
CREATE TABLE "Outbox" (
    "id" BIGSERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "destination" TEXT NOT NULL,
    "orderKey" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "availableAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMPTZ(3),
    "deliveredAt" TIMESTAMPTZ(3),
    "failedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Outbox_orderKey_id_idx" ON "Outbox"("orderKey", "id");

-- Hand-written below: what schema.prisma cannot express.

-- A host whose result is unknown keeps its ring concurrency slot: its install may still be running.
DROP INDEX "HostRun_running_slot_key";
CREATE UNIQUE INDEX "HostRun_running_slot_key" ON "HostRun" ("ringId", "slot")
  WHERE state IN ('running', 'unknown') AND "slot" IS NOT NULL;

-- The outbox rows still to deliver, in order.
CREATE INDEX "Outbox_pending_idx" ON "Outbox" ("orderKey", "id")
  WHERE "deliveredAt" IS NULL AND "failedAt" IS NULL;

-- One active deployment per change. Where two were created for one change (the check-then-create
-- race this index closes), the older ones are aborted first, with the reason.
UPDATE "Deployment" d SET state = 'aborted', "finishedAt" = now(),
  "haltedReason" = 'aborted when upgrading: another deployment of the same change was active'
WHERE d.state IN ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'halted', 'rolling_back')
  AND EXISTS (
    SELECT 1 FROM "Deployment" n
    WHERE n."changeRequestId" = d."changeRequestId" AND n.id <> d.id
      AND n.state IN ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'halted', 'rolling_back')
      AND (n."createdAt", n.number) > (d."createdAt", d.number));
CREATE UNIQUE INDEX "Deployment_active_change_key" ON "Deployment" ("changeRequestId")
  WHERE state IN ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'halted', 'rolling_back');

-- An approved change's scope is frozen: no host (finding) joins it, and its package and version do
-- not change, from approval on. Hosts found later go to a new change (ChangeRepository.upsertCampaign).
CREATE FUNCTION "ChangeRequestFinding_scope_frozen"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  current "ChangeRequestStatus";
BEGIN
  -- FOR SHARE waits for a decision being recorded on the change (it holds the row lock) and then
  -- sees its outcome.
  SELECT status INTO current FROM "ChangeRequest" WHERE id = NEW."changeRequestId" FOR SHARE;
  IF current IN ('approved', 'scheduled', 'deploying', 'completed', 'failed', 'halted', 'rolled_back') THEN
    RAISE EXCEPTION 'change % is %: its hosts and versions were fixed when it was approved; a host found later belongs to a new change', NEW."changeRequestId", current
      USING ERRCODE = 'check_violation', HINT = 'patchbot_scope_frozen';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "ChangeRequestFinding_scope_frozen"
  BEFORE INSERT ON "ChangeRequestFinding"
  FOR EACH ROW EXECUTE FUNCTION "ChangeRequestFinding_scope_frozen"();

CREATE FUNCTION "ChangeRequest_version_frozen"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status IN ('approved', 'scheduled', 'deploying', 'completed', 'failed', 'halted', 'rolled_back')
     AND (NEW."packageName", NEW."fixedVersion", NEW.ecosystem)
       IS DISTINCT FROM (OLD."packageName", OLD."fixedVersion", OLD.ecosystem) THEN
    RAISE EXCEPTION 'change % is %: its package and version were fixed when it was approved', OLD.id, OLD.status
      USING ERRCODE = 'check_violation', HINT = 'patchbot_scope_frozen';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER "ChangeRequest_version_frozen"
  BEFORE UPDATE ON "ChangeRequest"
  FOR EACH ROW EXECUTE FUNCTION "ChangeRequest_version_frozen"();
