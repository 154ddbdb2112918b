-- AlterTable
ALTER TABLE "Outbox" ADD COLUMN     "dedupeKey" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Outbox_dedupeKey_key" ON "Outbox"("dedupeKey");

-- CreateIndex
CREATE INDEX "Outbox_kind_failedAt_idx" ON "Outbox"("kind", "failedAt");
