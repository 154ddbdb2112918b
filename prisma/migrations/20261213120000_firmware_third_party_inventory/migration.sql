-- CreateEnum
CREATE TYPE "FindingKind" AS ENUM ('os', 'third-party', 'firmware');

-- AlterTable
ALTER TABLE "InventorySnapshot" ADD COLUMN     "dmi" JSONB,
ADD COLUMN     "firmware" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "hsi" JSONB,
ADD COLUMN     "sources" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "thirdPartyCount" INTEGER NOT NULL DEFAULT 0;

-- CreateTable
CREATE TABLE "ThirdPartyPackage" (
    "id" BIGSERIAL NOT NULL,
    "snapshotId" UUID NOT NULL,
    "ecosystem" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "ownerKind" TEXT NOT NULL,
    "dev" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "ThirdPartyPackage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ThirdPartyPackage_snapshotId_ecosystem_owner_name_version_key" ON "ThirdPartyPackage"("snapshotId", "ecosystem", "owner", "name", "version");

-- AddForeignKey
ALTER TABLE "ThirdPartyPackage" ADD CONSTRAINT "ThirdPartyPackage_snapshotId_fkey" FOREIGN KEY ("snapshotId") REFERENCES "InventorySnapshot"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AlterTable
ALTER TABLE "Finding" ADD COLUMN     "kind" "FindingKind" NOT NULL DEFAULT 'os',
ADD COLUMN     "owner" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "ownerKind" TEXT;

-- AlterTable
ALTER TABLE "ChangeRequest" ADD COLUMN     "kind" "FindingKind" NOT NULL DEFAULT 'os';

-- A language package can be in several places of one host (two lockfiles, two interpreters) and a
-- firmware finding is per device: the owner is part of a finding's identity. Existing findings
-- (distribution packages) have the owner "" and keep their identity.
DROP INDEX "Finding_hostId_packageName_advisoryId_key";

-- CreateIndex
CREATE UNIQUE INDEX "Finding_hostId_packageName_advisoryId_owner_key" ON "Finding"("hostId", "packageName", "advisoryId", "owner");
