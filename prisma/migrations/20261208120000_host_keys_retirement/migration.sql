-- Several pinned host keys per host (a key rotation pins the new key beside the old one), an
-- identity file per host added on the command line, and retirement instead of deletion: a host
-- that left the policy file keeps its snapshots, findings and deployment history.
ALTER TABLE "Host" ADD COLUMN "hostKeys" JSONB NOT NULL DEFAULT '[]';
ALTER TABLE "Host" ADD COLUMN "identityFile" TEXT;
ALTER TABLE "Host" ADD COLUMN "retiredAt" TIMESTAMPTZ(3);

-- The one key pinned so far becomes the first of the list (its type was never recorded).
UPDATE "Host" SET "hostKeys" = jsonb_build_array(jsonb_build_object('sha256', "hostKeySha256", 'type', NULL))
WHERE "hostKeySha256" IS NOT NULL;

-- "hostKeySha256" stays one release, unused: processes of the previous release still read it while
-- an upgrade rolls out (docs/operations.md, upgrades). A later migration drops it.
