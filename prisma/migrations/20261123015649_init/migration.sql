-- CreateEnum
CREATE TYPE "DefinitionSource" AS ENUM ('policy', 'cli');

-- CreateEnum
CREATE TYPE "PackageManager" AS ENUM ('dpkg', 'rpm', 'apk');

-- CreateEnum
CREATE TYPE "AdvisorySource" AS ENUM ('osv', 'debian-tracker', 'alpine-secdb');

-- CreateEnum
CREATE TYPE "PackageNameKind" AS ENUM ('source', 'binary');

-- CreateEnum
CREATE TYPE "AffectedStatus" AS ENUM ('affected', 'not-affected', 'unfixed', 'no-dsa', 'ignored', 'postponed');

-- CreateEnum
CREATE TYPE "FindingStatus" AS ENUM ('open', 'fixed', 'accepted', 'deferred');

-- CreateEnum
CREATE TYPE "SeverityBand" AS ENUM ('critical', 'high', 'medium', 'low', 'none');

-- CreateEnum
CREATE TYPE "SsvcDecision" AS ENUM ('Track', 'Track*', 'Attend', 'Act');

-- CreateEnum
CREATE TYPE "ChatPlatform" AS ENUM ('slack', 'teams');

-- CreateEnum
CREATE TYPE "Surface" AS ENUM ('slack', 'teams', 'cli', 'system');

-- CreateEnum
CREATE TYPE "ChangeRequestStatus" AS ENUM ('pending', 'approved', 'rejected', 'deferred', 'accepted_risk', 'scheduled', 'deploying', 'completed', 'failed', 'halted', 'rolled_back', 'cancelled', 'expired');

-- CreateEnum
CREATE TYPE "DecisionKind" AS ENUM ('approve', 'reject', 'defer', 'accept_risk', 'pause', 'resume', 'abort', 'rollback');

-- CreateEnum
CREATE TYPE "DeploymentState" AS ENUM ('planned', 'waiting_window', 'running', 'soaking', 'paused', 'halted', 'rolling_back', 'rolled_back', 'completed', 'failed', 'aborted');

-- CreateEnum
CREATE TYPE "RingState" AS ENUM ('pending', 'waiting_window', 'running', 'soaking', 'passed', 'failed', 'halted', 'skipped', 'rolling_back', 'rolled_back');

-- CreateEnum
CREATE TYPE "HostRunState" AS ENUM ('pending', 'running', 'succeeded', 'failed', 'skipped', 'rolling_back', 'rolled_back', 'rollback_failed');

-- CreateEnum
CREATE TYPE "HostRunStep" AS ENUM ('pre_baseline', 'install', 'post_baseline', 'verify', 'reboot', 'health_check', 'rollback', 'done');

-- CreateEnum
CREATE TYPE "ChatMessageKind" AS ENUM ('change', 'summary', 'digest', 'notice');

-- CreateEnum
CREATE TYPE "DigestRunState" AS ENUM ('claimed', 'posted', 'failed');

-- CreateTable
CREATE TABLE "Host" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "address" TEXT NOT NULL,
    "port" INTEGER NOT NULL DEFAULT 22,
    "sshUser" TEXT,
    "hostKeySha256" TEXT,
    "osFamily" TEXT,
    "osRelease" TEXT,
    "kernel" TEXT,
    "labels" JSONB NOT NULL DEFAULT '{}',
    "groups" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "environment" TEXT NOT NULL DEFAULT 'production',
    "criticality" INTEGER NOT NULL DEFAULT 3,
    "internetFacing" BOOLEAN NOT NULL DEFAULT false,
    "compensatingControls" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "ring" TEXT,
    "teamId" UUID,
    "source" "DefinitionSource" NOT NULL DEFAULT 'cli',
    "lastInventoryAt" TIMESTAMPTZ(3),
    "rebootRequired" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Host_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InventorySnapshot" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "hostId" UUID NOT NULL,
    "collectedAt" TIMESTAMPTZ(3) NOT NULL,
    "osId" TEXT NOT NULL,
    "osFamily" TEXT NOT NULL,
    "osVersionId" TEXT NOT NULL,
    "osCodename" TEXT,
    "osPrettyName" TEXT,
    "kernel" TEXT NOT NULL,
    "packageManager" "PackageManager" NOT NULL,
    "rebootRequired" BOOLEAN NOT NULL DEFAULT false,
    "rebootPackages" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "packageCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InventorySnapshot_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "InstalledPackage" (
    "id" BIGSERIAL NOT NULL,
    "snapshotId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "sourceName" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "sourceVersion" TEXT NOT NULL,
    "arch" TEXT NOT NULL,

    CONSTRAINT "InstalledPackage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Advisory" (
    "id" TEXT NOT NULL,
    "source" "AdvisorySource" NOT NULL,
    "aliases" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "cves" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "published" TIMESTAMPTZ(3),
    "modified" TIMESTAMPTZ(3) NOT NULL,
    "withdrawn" TIMESTAMPTZ(3),
    "summary" TEXT NOT NULL DEFAULT '',
    "details" TEXT,
    "references" JSONB NOT NULL DEFAULT '[]',
    "severity" JSONB NOT NULL DEFAULT '[]',
    "contentHash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Advisory_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AffectedPackage" (
    "id" BIGSERIAL NOT NULL,
    "advisoryId" TEXT NOT NULL,
    "ecosystem" TEXT NOT NULL,
    "package" TEXT NOT NULL,
    "nameKind" "PackageNameKind" NOT NULL,
    "status" "AffectedStatus" NOT NULL,
    "ranges" JSONB NOT NULL DEFAULT '[]',
    "versions" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "fixedVersions" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "binaries" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "urgency" TEXT,

    CONSTRAINT "AffectedPackage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CveEnrichment" (
    "cve" TEXT NOT NULL,
    "cvss" JSONB NOT NULL DEFAULT '[]',
    "cvssScore" DOUBLE PRECISION,
    "cvssVector" TEXT,
    "cvssVersion" TEXT,
    "epssScore" DOUBLE PRECISION,
    "epssPercentile" DOUBLE PRECISION,
    "epssDate" DATE,
    "kevDateAdded" DATE,
    "kevDueDate" DATE,
    "kevRansomware" BOOLEAN NOT NULL DEFAULT false,
    "kev" JSONB,
    "rejected" BOOLEAN NOT NULL DEFAULT false,
    "nvdModified" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "CveEnrichment_pkey" PRIMARY KEY ("cve")
);

-- CreateTable
CREATE TABLE "FeedState" (
    "source" TEXT NOT NULL,
    "etag" TEXT,
    "lastModified" TEXT,
    "cursor" TEXT,
    "syncedAt" TIMESTAMPTZ(3),
    "lastStatus" TEXT,
    "lastError" TEXT,
    "recordCount" INTEGER,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "FeedState_pkey" PRIMARY KEY ("source")
);

-- CreateTable
CREATE TABLE "Finding" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "hostId" UUID NOT NULL,
    "packageName" TEXT NOT NULL,
    "sourcePackage" TEXT NOT NULL,
    "advisoryId" TEXT NOT NULL,
    "ecosystem" TEXT NOT NULL,
    "installedVersion" TEXT NOT NULL,
    "fixedVersion" TEXT,
    "cves" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "firstSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMPTZ(3),
    "status" "FindingStatus" NOT NULL DEFAULT 'open',
    "riskScore" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "riskBreakdown" JSONB NOT NULL DEFAULT '[]',
    "severity" "SeverityBand" NOT NULL DEFAULT 'none',
    "ssvc" "SsvcDecision",
    "kev" BOOLEAN NOT NULL DEFAULT false,
    "epssScore" DOUBLE PRECISION,
    "slaDueAt" TIMESTAMPTZ(3),
    "dueReason" TEXT,
    "statusUntil" TIMESTAMPTZ(3),
    "notifiedAt" TIMESTAMPTZ(3),
    "notifiedScore" DOUBLE PRECISION,
    "notifiedKev" BOOLEAN,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Finding_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Team" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "displayName" TEXT,
    "source" "DefinitionSource" NOT NULL DEFAULT 'policy',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Team_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChatDestination" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "teamId" UUID,
    "platform" "ChatPlatform" NOT NULL,
    "channelId" TEXT NOT NULL,
    "name" TEXT,
    "conversationReference" JSONB,
    "serviceUrl" TEXT,
    "tenantId" TEXT,
    "source" "DefinitionSource" NOT NULL DEFAULT 'policy',
    "installedAt" TIMESTAMPTZ(3),
    "removedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ChatDestination_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RoutingRule" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "teamId" UUID NOT NULL,
    "priority" INTEGER NOT NULL DEFAULT 100,
    "selector" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "RoutingRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChangeRequest" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "number" SERIAL NOT NULL,
    "ecosystem" TEXT NOT NULL,
    "packageName" TEXT NOT NULL,
    "sourcePackage" TEXT,
    "fixedVersion" TEXT NOT NULL,
    "teamId" UUID,
    "status" "ChangeRequestStatus" NOT NULL DEFAULT 'pending',
    "activeKey" TEXT,
    "requestedBy" TEXT NOT NULL,
    "requestedVia" "Surface" NOT NULL DEFAULT 'system',
    "policySnapshot" JSONB NOT NULL,
    "approvalsRequired" INTEGER NOT NULL DEFAULT 1,
    "emergency" BOOLEAN NOT NULL DEFAULT false,
    "riskScore" DOUBLE PRECISION,
    "severity" "SeverityBand",
    "kev" BOOLEAN NOT NULL DEFAULT false,
    "deferUntil" TIMESTAMPTZ(3),
    "approvedAt" TIMESTAMPTZ(3),
    "closedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ChangeRequest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChangeRequestFinding" (
    "changeRequestId" UUID NOT NULL,
    "findingId" UUID NOT NULL,
    "addedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChangeRequestFinding_pkey" PRIMARY KEY ("changeRequestId","findingId")
);

-- CreateTable
CREATE TABLE "ChatMessage" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "platform" "ChatPlatform" NOT NULL,
    "channelId" TEXT NOT NULL,
    "messageId" TEXT NOT NULL,
    "threadId" TEXT,
    "kind" "ChatMessageKind" NOT NULL,
    "changeRequestId" UUID,
    "conversationReference" JSONB,
    "renderHash" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ChatMessage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Decision" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "changeRequestId" UUID NOT NULL,
    "kind" "DecisionKind" NOT NULL,
    "actorId" TEXT NOT NULL,
    "actorDisplay" TEXT,
    "surface" "Surface" NOT NULL,
    "reason" TEXT,
    "expiresAt" TIMESTAMPTZ(3),
    "deferUntil" TIMESTAMPTZ(3),
    "dedupeKey" TEXT NOT NULL DEFAULT '',
    "revokedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Decision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RiskAcceptance" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "findingId" UUID,
    "changeRequestId" UUID,
    "reason" TEXT NOT NULL,
    "owner" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "surface" "Surface" NOT NULL,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "RiskAcceptance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Deployment" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "number" SERIAL NOT NULL,
    "changeRequestId" UUID NOT NULL,
    "state" "DeploymentState" NOT NULL DEFAULT 'planned',
    "plan" JSONB NOT NULL,
    "emergency" BOOLEAN NOT NULL DEFAULT false,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "pausedAt" TIMESTAMPTZ(3),
    "haltedReason" TEXT,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Deployment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeploymentRing" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "deploymentId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "state" "RingState" NOT NULL DEFAULT 'pending',
    "concurrency" INTEGER NOT NULL DEFAULT 1,
    "failureBudget" INTEGER,
    "failureBudgetPercent" DOUBLE PRECISION,
    "soakSeconds" INTEGER NOT NULL DEFAULT 0,
    "soakUntil" TIMESTAMPTZ(3),
    "notBefore" TIMESTAMPTZ(3),
    "healthChecks" JSONB NOT NULL DEFAULT '[]',
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DeploymentRing_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "HostRun" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "ringId" UUID NOT NULL,
    "hostId" UUID,
    "hostName" TEXT NOT NULL,
    "state" "HostRunState" NOT NULL DEFAULT 'pending',
    "step" "HostRunStep",
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "targets" JSONB NOT NULL DEFAULT '[]',
    "preBaseline" JSONB,
    "postBaseline" JSONB,
    "rebootNeeded" BOOLEAN NOT NULL DEFAULT false,
    "rebootedAt" TIMESTAMPTZ(3),
    "output" TEXT,
    "error" TEXT,
    "workerId" TEXT,
    "heartbeatAt" TIMESTAMPTZ(3),
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "HostRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MaintenanceWindow" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "group" TEXT NOT NULL,
    "weekdays" INTEGER[],
    "startTime" TEXT NOT NULL,
    "endTime" TEXT NOT NULL,
    "timeZone" TEXT NOT NULL,
    "blackoutDates" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "source" "DefinitionSource" NOT NULL DEFAULT 'policy',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "MaintenanceWindow_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditLog" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "actorDisplay" TEXT,
    "surface" "Surface" NOT NULL,
    "action" TEXT NOT NULL,
    "subjectType" TEXT NOT NULL,
    "subjectId" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',

    CONSTRAINT "AuditLog_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MetricSnapshot" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "scope" TEXT NOT NULL,
    "teamId" UUID,
    "weekStart" DATE NOT NULL,
    "metrics" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MetricSnapshot_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DigestRun" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "teamId" UUID NOT NULL,
    "weekStart" DATE NOT NULL,
    "state" "DigestRunState" NOT NULL DEFAULT 'claimed',
    "claimedBy" TEXT,
    "postedAt" TIMESTAMPTZ(3),
    "error" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DigestRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Host_name_key" ON "Host"("name");

-- CreateIndex
CREATE INDEX "Host_teamId_idx" ON "Host"("teamId");

-- CreateIndex
CREATE INDEX "Host_environment_idx" ON "Host"("environment");

-- CreateIndex
CREATE INDEX "Host_ring_idx" ON "Host"("ring");

-- CreateIndex
CREATE INDEX "InventorySnapshot_hostId_collectedAt_idx" ON "InventorySnapshot"("hostId", "collectedAt" DESC);

-- CreateIndex
CREATE INDEX "InstalledPackage_snapshotId_sourceName_idx" ON "InstalledPackage"("snapshotId", "sourceName");

-- CreateIndex
CREATE UNIQUE INDEX "InstalledPackage_snapshotId_name_arch_version_key" ON "InstalledPackage"("snapshotId", "name", "arch", "version");

-- CreateIndex
CREATE INDEX "Advisory_source_modified_idx" ON "Advisory"("source", "modified");

-- CreateIndex
CREATE INDEX "Advisory_cves_idx" ON "Advisory" USING GIN ("cves");

-- CreateIndex
CREATE INDEX "Advisory_aliases_idx" ON "Advisory" USING GIN ("aliases");

-- CreateIndex
CREATE INDEX "AffectedPackage_ecosystem_package_idx" ON "AffectedPackage"("ecosystem", "package");

-- CreateIndex
CREATE INDEX "AffectedPackage_advisoryId_idx" ON "AffectedPackage"("advisoryId");

-- CreateIndex
CREATE INDEX "CveEnrichment_kevDateAdded_idx" ON "CveEnrichment"("kevDateAdded");

-- CreateIndex
CREATE INDEX "CveEnrichment_epssScore_idx" ON "CveEnrichment"("epssScore");

-- CreateIndex
CREATE INDEX "Finding_hostId_status_idx" ON "Finding"("hostId", "status");

-- CreateIndex
CREATE INDEX "Finding_status_riskScore_idx" ON "Finding"("status", "riskScore" DESC);

-- CreateIndex
CREATE INDEX "Finding_status_slaDueAt_idx" ON "Finding"("status", "slaDueAt");

-- CreateIndex
CREATE INDEX "Finding_status_notifiedAt_idx" ON "Finding"("status", "notifiedAt");

-- CreateIndex
CREATE INDEX "Finding_advisoryId_idx" ON "Finding"("advisoryId");

-- CreateIndex
CREATE INDEX "Finding_sourcePackage_fixedVersion_idx" ON "Finding"("sourcePackage", "fixedVersion");

-- CreateIndex
CREATE INDEX "Finding_resolvedAt_idx" ON "Finding"("resolvedAt");

-- CreateIndex
CREATE INDEX "Finding_cves_idx" ON "Finding" USING GIN ("cves");

-- CreateIndex
CREATE UNIQUE INDEX "Finding_hostId_packageName_advisoryId_key" ON "Finding"("hostId", "packageName", "advisoryId");

-- CreateIndex
CREATE UNIQUE INDEX "Team_name_key" ON "Team"("name");

-- CreateIndex
CREATE INDEX "ChatDestination_teamId_idx" ON "ChatDestination"("teamId");

-- CreateIndex
CREATE UNIQUE INDEX "ChatDestination_platform_channelId_key" ON "ChatDestination"("platform", "channelId");

-- CreateIndex
CREATE INDEX "RoutingRule_teamId_idx" ON "RoutingRule"("teamId");

-- CreateIndex
CREATE INDEX "RoutingRule_priority_idx" ON "RoutingRule"("priority");

-- CreateIndex
CREATE UNIQUE INDEX "ChangeRequest_number_key" ON "ChangeRequest"("number");

-- CreateIndex
CREATE UNIQUE INDEX "ChangeRequest_activeKey_key" ON "ChangeRequest"("activeKey");

-- CreateIndex
CREATE INDEX "ChangeRequest_status_createdAt_idx" ON "ChangeRequest"("status", "createdAt");

-- CreateIndex
CREATE INDEX "ChangeRequest_teamId_status_idx" ON "ChangeRequest"("teamId", "status");

-- CreateIndex
CREATE INDEX "ChangeRequest_ecosystem_packageName_fixedVersion_idx" ON "ChangeRequest"("ecosystem", "packageName", "fixedVersion");

-- CreateIndex
CREATE INDEX "ChangeRequestFinding_findingId_idx" ON "ChangeRequestFinding"("findingId");

-- CreateIndex
CREATE INDEX "ChatMessage_changeRequestId_idx" ON "ChatMessage"("changeRequestId");

-- CreateIndex
CREATE UNIQUE INDEX "ChatMessage_platform_channelId_messageId_key" ON "ChatMessage"("platform", "channelId", "messageId");

-- CreateIndex
CREATE INDEX "Decision_changeRequestId_createdAt_idx" ON "Decision"("changeRequestId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Decision_changeRequestId_actorId_kind_dedupeKey_key" ON "Decision"("changeRequestId", "actorId", "kind", "dedupeKey");

-- CreateIndex
CREATE INDEX "RiskAcceptance_findingId_idx" ON "RiskAcceptance"("findingId");

-- CreateIndex
CREATE INDEX "RiskAcceptance_changeRequestId_idx" ON "RiskAcceptance"("changeRequestId");

-- CreateIndex
CREATE INDEX "RiskAcceptance_expiresAt_idx" ON "RiskAcceptance"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Deployment_number_key" ON "Deployment"("number");

-- CreateIndex
CREATE INDEX "Deployment_changeRequestId_idx" ON "Deployment"("changeRequestId");

-- CreateIndex
CREATE INDEX "Deployment_state_idx" ON "Deployment"("state");

-- CreateIndex
CREATE INDEX "DeploymentRing_state_notBefore_idx" ON "DeploymentRing"("state", "notBefore");

-- CreateIndex
CREATE UNIQUE INDEX "DeploymentRing_deploymentId_index_key" ON "DeploymentRing"("deploymentId", "index");

-- CreateIndex
CREATE INDEX "HostRun_hostId_idx" ON "HostRun"("hostId");

-- CreateIndex
CREATE INDEX "HostRun_state_idx" ON "HostRun"("state");

-- CreateIndex
CREATE UNIQUE INDEX "HostRun_ringId_hostId_key" ON "HostRun"("ringId", "hostId");

-- CreateIndex
CREATE UNIQUE INDEX "MaintenanceWindow_name_key" ON "MaintenanceWindow"("name");

-- CreateIndex
CREATE INDEX "MaintenanceWindow_group_idx" ON "MaintenanceWindow"("group");

-- CreateIndex
CREATE INDEX "AuditLog_subjectType_subjectId_at_idx" ON "AuditLog"("subjectType", "subjectId", "at");

-- CreateIndex
CREATE INDEX "AuditLog_at_idx" ON "AuditLog"("at");

-- CreateIndex
CREATE INDEX "AuditLog_actor_at_idx" ON "AuditLog"("actor", "at");

-- CreateIndex
CREATE INDEX "MetricSnapshot_teamId_weekStart_idx" ON "MetricSnapshot"("teamId", "weekStart");

-- CreateIndex
CREATE UNIQUE INDEX "MetricSnapshot_scope_weekStart_key" ON "MetricSnapshot"("scope", "weekStart");

-- CreateIndex
CREATE UNIQUE INDEX "DigestRun_teamId_weekStart_key" ON "DigestRun"("teamId", "weekStart");

-- AddForeignKey
ALTER TABLE "Host" ADD CONSTRAINT "Host_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InventorySnapshot" ADD CONSTRAINT "InventorySnapshot_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InstalledPackage" ADD CONSTRAINT "InstalledPackage_snapshotId_fkey" FOREIGN KEY ("snapshotId") REFERENCES "InventorySnapshot"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AffectedPackage" ADD CONSTRAINT "AffectedPackage_advisoryId_fkey" FOREIGN KEY ("advisoryId") REFERENCES "Advisory"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_advisoryId_fkey" FOREIGN KEY ("advisoryId") REFERENCES "Advisory"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChatDestination" ADD CONSTRAINT "ChatDestination_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RoutingRule" ADD CONSTRAINT "RoutingRule_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChangeRequest" ADD CONSTRAINT "ChangeRequest_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChangeRequestFinding" ADD CONSTRAINT "ChangeRequestFinding_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChangeRequestFinding" ADD CONSTRAINT "ChangeRequestFinding_findingId_fkey" FOREIGN KEY ("findingId") REFERENCES "Finding"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ChatMessage" ADD CONSTRAINT "ChatMessage_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Decision" ADD CONSTRAINT "Decision_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RiskAcceptance" ADD CONSTRAINT "RiskAcceptance_findingId_fkey" FOREIGN KEY ("findingId") REFERENCES "Finding"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RiskAcceptance" ADD CONSTRAINT "RiskAcceptance_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Deployment" ADD CONSTRAINT "Deployment_changeRequestId_fkey" FOREIGN KEY ("changeRequestId") REFERENCES "ChangeRequest"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DeploymentRing" ADD CONSTRAINT "DeploymentRing_deploymentId_fkey" FOREIGN KEY ("deploymentId") REFERENCES "Deployment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HostRun" ADD CONSTRAINT "HostRun_ringId_fkey" FOREIGN KEY ("ringId") REFERENCES "DeploymentRing"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HostRun" ADD CONSTRAINT "HostRun_hostId_fkey" FOREIGN KEY ("hostId") REFERENCES "Host"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MetricSnapshot" ADD CONSTRAINT "MetricSnapshot_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DigestRun" ADD CONSTRAINT "DigestRun_teamId_fkey" FOREIGN KEY ("teamId") REFERENCES "Team"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- ---------------------------------------------------------------------------------------------
-- Hand-written (not expressible in schema.prisma)
-- ---------------------------------------------------------------------------------------------

-- Host.criticality is a tier: 1 = most critical ... 4 = least.
ALTER TABLE "Host" ADD CONSTRAINT "Host_criticality_check" CHECK ("criticality" BETWEEN 1 AND 4);

-- Finding.riskScore is 0-100.
ALTER TABLE "Finding" ADD CONSTRAINT "Finding_riskScore_check" CHECK ("riskScore" >= 0 AND "riskScore" <= 100);

-- The audit log is append-only: rows can be inserted, never changed or removed.
CREATE FUNCTION "AuditLog_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'AuditLog is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER "AuditLog_append_only"
  BEFORE UPDATE OR DELETE ON "AuditLog"
  FOR EACH ROW EXECUTE FUNCTION "AuditLog_reject_change"();

CREATE TRIGGER "AuditLog_no_truncate"
  BEFORE TRUNCATE ON "AuditLog"
  FOR EACH STATEMENT EXECUTE FUNCTION "AuditLog_reject_change"();
