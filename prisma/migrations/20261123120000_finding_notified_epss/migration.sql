-- AlterTable
ALTER TABLE "Finding" ADD COLUMN     "notifiedEpss" DOUBLE PRECISION;
