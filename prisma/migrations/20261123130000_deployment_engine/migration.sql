-- AlterEnum
ALTER TYPE "DeploymentState" ADD VALUE 'rollback_failed';

-- AlterEnum
ALTER TYPE "HostRunStep" ADD VALUE 'rollback_verify';

-- AlterTable
ALTER TABLE "Deployment" ADD COLUMN     "currentRing" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "pausedFrom" "DeploymentState";

-- AlterTable
ALTER TABLE "DeploymentRing" ADD COLUMN     "flowGeneration" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "HostRun" ADD COLUMN     "bootId" TEXT,
ADD COLUMN     "installSentAt" TIMESTAMPTZ(3),
ADD COLUMN     "notBefore" TIMESTAMPTZ(3),
ADD COLUMN     "position" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "rebootSentAt" TIMESTAMPTZ(3),
ADD COLUMN     "rollbackReport" JSONB,
ADD COLUMN     "rollbackSentAt" TIMESTAMPTZ(3),
ADD COLUMN     "tool" TEXT NOT NULL DEFAULT 'apt';

-- CreateIndex
CREATE INDEX "HostRun_ringId_state_position_idx" ON "HostRun"("ringId", "state", "position");
