-- CreateTable
CREATE TABLE "ItsmLink" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "changeRequestId" UUID NOT NULL,
    "system" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "subject" TEXT NOT NULL DEFAULT '',
    "externalId" TEXT NOT NULL,
    "number" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "state" TEXT,
    "approval" TEXT,
    "nextPollAt" TIMESTAMPTZ(3),
    "pollAttempts" INTEGER NOT NULL DEFAULT 0,
    "approvalCheckedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ItsmLink_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ItsmDelivery" (
    "system" TEXT NOT NULL,
    "eventId" TEXT NOT NULL,
    "deliveredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ItsmDelivery_pkey" PRIMARY KEY ("system","eventId")
);

-- CreateIndex
CREATE INDEX "ItsmLink_approval_nextPollAt_idx" ON "ItsmLink"("approval", "nextPollAt");

-- CreateIndex
CREATE UNIQUE INDEX "ItsmLink_changeRequestId_system_kind_subject_key" ON "ItsmLink"("changeRequestId", "system", "kind", "subject");

-- AddForeignKey
ALTER TABLE "ItsmLink" ADD CONSTRAINT "ItsmLink_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written below: what schema.prisma cannot express.
ALTER TABLE "ItsmLink" ADD CONSTRAINT "ItsmLink_system_check" CHECK ("system" IN ('servicenow', 'jira'));
ALTER TABLE "ItsmLink" ADD CONSTRAINT "ItsmLink_kind_check" CHECK ("kind" IN ('change', 'incident'));
ALTER TABLE "ItsmLink" ADD CONSTRAINT "ItsmLink_approval_check"
  CHECK ("approval" IS NULL OR "approval" IN ('requested', 'approved', 'rejected'));
