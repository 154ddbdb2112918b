/**
 * Deployments, their rings and host runs: the system of record of every staged rollout.
 *
 * Two workers never run one host step twice:
 * - A host is claimed (`claimNextHost`) by one statement: `FOR UPDATE SKIP LOCKED` keeps two claims
 *   off one host, and a running host holds a concurrency slot of its ring under a partial unique
 *   index, so the ring's concurrency holds across workers. The claim writes a lease (`workerId`,
 *   `heartbeatAt`); a lease whose heartbeat is older than the lease time lets another worker take
 *   the host over (the first one died).
 * - Progress (`saveProgress`) is one `UPDATE ... WHERE state, step and workerId are what the
 *   caller last stored`: a worker that lost its lease changes nothing and learns it.
 * - The statements of that hot path are plain SQL (../sql.ts); the rest goes through Prisma.
 * - Steps with an effect on the host (install, reboot, rollback) record when their command was sent
 *   (`installSentAt`, ...) before sending it: a resumed step with it set checks the host instead.
 *
 * Deployment state changes go through the core state machine (transitionDeployment) with an
 * optimistic check on the state and ring the caller read.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  DEPLOYMENT_STATUSES,
  mustTransitionHostRun,
  transitionDeployment,
  transitionHostRun,
  type DeploymentEvent,
  type DeploymentState,
  type DeploymentStatus,
  type HostRunEvent,
  type HostRunStatus,
  type PausableStatus,
} from '../../core/deployments/state.js';
import { NotFoundError, PatchbotError, ValidationError } from '../../core/errors.js';
import type { DbClient, TxClient } from '../client.js';
import type { Prisma } from '../generated/client.js';
import { isTransientDbError, retryTransient } from '../retry.js';
import type { SqlRunner } from '../sql.js';
import { changeWhere } from './change-repository.js';

// ---------------------------------------------------------------------------------------------
// shapes

export const PackageTargetRecord = z.object({
  name: z.string().min(1),
  version: z.string().min(1),
  arch: z.string().min(1).optional(),
});
export type PackageTargetRecord = z.infer<typeof PackageTargetRecord>;
const Targets = z.array(PackageTargetRecord);

/** Installed versions per package name (a name may be installed for several architectures). */
export const Baseline = z.record(z.string(), z.array(z.string()));
export type Baseline = z.infer<typeof Baseline>;

export const RollbackReportEntry = z.object({
  name: z.string(),
  from: z.array(z.string()),
  to: z.string().nullable(),
  possible: z.boolean(),
  reason: z.string(),
});
export type RollbackReportEntry = z.infer<typeof RollbackReportEntry>;
const RollbackReport = z.array(RollbackReportEntry);

type DbHostRunState =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'rolling_back'
  | 'rolled_back'
  | 'rollback_failed'
  | 'unknown';
type DbHostRunStep =
  | 'pre_baseline'
  | 'install'
  | 'post_baseline'
  | 'verify'
  | 'reboot'
  | 'health_check'
  | 'rollback'
  | 'rollback_verify'
  | 'done';

const ACTIVE_STEP: Record<string, DbHostRunStep> = {
  pre_baseline: 'pre_baseline',
  installing: 'install',
  post_baseline: 'post_baseline',
  verifying: 'verify',
  rebooting: 'reboot',
  health_check: 'health_check',
};
const STATUS_OF_STEP: Record<string, HostRunStatus> = Object.fromEntries(
  Object.entries(ACTIVE_STEP).map(([status, step]) => [step, status as HostRunStatus]),
);

/** The core host-run status a stored (state, step) pair stands for. */
export function hostRunStatusOf(state: DbHostRunState, step: DbHostRunStep | null): HostRunStatus {
  switch (state) {
    case 'running':
      return STATUS_OF_STEP[step ?? 'pre_baseline'] ?? 'pre_baseline';
    case 'rolling_back':
      return step === 'rollback_verify' ? 'rollback_verifying' : 'rollback_installing';
    case 'unknown':
      return step === 'rollback' ? 'rollback_unknown' : 'install_unknown';
    default:
      return state;
  }
}

/** The stored (state, step) pair of a core status; a failed run keeps the step it failed in. */
export function storedHostRunStatus(
  status: HostRunStatus,
  previousStep: DbHostRunStep | null,
): { state: DbHostRunState; step: DbHostRunStep | null } {
  const active = ACTIVE_STEP[status];
  if (active) return { state: 'running', step: active };
  switch (status) {
    case 'rollback_installing':
      return { state: 'rolling_back', step: 'rollback' };
    case 'rollback_verifying':
      return { state: 'rolling_back', step: 'rollback_verify' };
    case 'install_unknown':
      return { state: 'unknown', step: 'install' };
    case 'rollback_unknown':
      return { state: 'unknown', step: 'rollback' };
    case 'succeeded':
      return { state: 'succeeded', step: 'done' };
    case 'pending':
      return { state: 'pending', step: null };
    default:
      return { state: status as DbHostRunState, step: previousStep };
  }
}

export interface HostRunRecord {
  id: string;
  ringId: string;
  deploymentId: string;
  ringIndex: number;
  hostId: string | null;
  hostName: string;
  status: HostRunStatus;
  state: DbHostRunState;
  step: DbHostRunStep | null;
  attempt: number;
  position: number;
  tool: string;
  targets: PackageTargetRecord[];
  preBaseline: Baseline | null;
  postBaseline: Baseline | null;
  rebootNeeded: boolean;
  rebootedAt: Date | null;
  output: string | null;
  error: string | null;
  workerId: string | null;
  heartbeatAt: Date | null;
  notBefore: Date | null;
  installSentAt: Date | null;
  rebootSentAt: Date | null;
  rollbackSentAt: Date | null;
  bootId: string | null;
  remoteJob: string | null;
  rollbackReport: RollbackReportEntry[] | null;
  rollbackError: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export type RingStateName =
  | 'pending'
  | 'waiting_window'
  | 'running'
  | 'soaking'
  | 'passed'
  | 'failed'
  | 'halted'
  | 'skipped'
  | 'rolling_back'
  | 'rolled_back';

/** A ring state change that goes with a deployment transition, in the same database transaction. */
export interface RingUpdate {
  ringId: string;
  /** The ring changes only from one of these states. */
  from: readonly RingStateName[];
  to: RingStateName;
  data?: { startedAt?: Date; finishedAt?: Date; soakUntil?: Date | null; notBefore?: Date | null };
}

export interface RingRecord {
  id: string;
  deploymentId: string;
  index: number;
  name: string;
  state: RingStateName;
  concurrency: number;
  failureBudget: { count: number } | { percent: number };
  soakSeconds: number;
  soakUntil: Date | null;
  notBefore: Date | null;
  flowGeneration: number;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface DeploymentRecord {
  id: string;
  number: number;
  changeRequestId: string;
  changeNumber: number;
  state: DeploymentState;
  /** The stored plan and the settings the jobs run with (see the use case). */
  plan: unknown;
  emergency: boolean;
  createdBy: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  pausedAt: Date | null;
}

export interface DeploymentDetail extends DeploymentRecord {
  rings: (RingRecord & { hosts: HostRunRecord[] })[];
}

export interface NewHostRun {
  hostId: string;
  hostName: string;
  tool: string;
  targets: PackageTargetRecord[];
  notBefore: Date | null;
}

export interface NewRing {
  name: string;
  concurrency: number;
  failureBudget: { count: number } | { percent: number };
  soakSeconds: number;
  notBefore: Date | null;
  healthChecks: unknown;
  hosts: NewHostRun[];
}

export interface NewDeployment {
  changeRequestId: string;
  emergency: boolean;
  createdBy: string;
  plan: unknown;
  rings: NewRing[];
}

/** A change request with what a deployment is made from: its open findings and their hosts. */
export interface ChangeForDeployment {
  id: string;
  number: number;
  status: string;
  /** os, third-party or firmware: only distribution packages are deployed. */
  kind: 'os' | 'third-party' | 'firmware';
  ecosystem: string;
  packageName: string;
  sourcePackage: string | null;
  fixedVersion: string;
  emergency: boolean;
  kev: boolean;
  riskScore: number | null;
  team: string | null;
  findings: {
    findingId: string;
    hostId: string;
    hostName: string;
    packageName: string;
    sourcePackage: string;
    installedVersion: string;
    fixedVersion: string | null;
    /** Where the package is (language packages, firmware): "" for a distribution package. */
    owner: string;
    ownerKind: string | null;
  }[];
}

/** Packages of a host's latest snapshot that belong to one source package. */
export interface HostSourcePackages {
  hostId: string;
  packageManager: 'dpkg' | 'rpm' | 'apk';
  osId: string;
  osVersionId: string;
  packages: { name: string; version: string; arch: string; sourceName: string }[];
}

export type ClaimResult =
  | { kind: 'claimed'; run: HostRunRecord; resumed: boolean }
  /** The ring's concurrency is used up (by live workers). */
  | { kind: 'busy' }
  /** Hosts are left, but none may start before `until`. */
  | { kind: 'wait'; until: Date }
  /** Hosts whose result is unknown are looked at again in `delayMs` (real time). */
  | { kind: 'recheck'; delayMs: number }
  /**
   * Nothing left to claim in the ring: every host is final or held by a worker (the ring job looks
   * again once all lanes end, and takes over hosts whose worker died).
   */
  | { kind: 'done' };

const FINAL_HOST_STATES: readonly DbHostRunState[] = [
  'succeeded',
  'failed',
  'skipped',
  'rolled_back',
  'rollback_failed',
];

// ---------------------------------------------------------------------------------------------
// row mapping

type HostRunRow = Prisma.HostRunGetPayload<{
  include: { ring: { select: { deploymentId: true; index: true } } };
}>;
type RingRow = Prisma.DeploymentRingGetPayload<object>;
type DeploymentRow = Prisma.DeploymentGetPayload<{
  include: { changeRequest: { select: { number: true } }; _count: { select: { rings: true } } };
}>;

const includeRing = { ring: { select: { deploymentId: true, index: true } } } as const;

/** Where a host run belongs (fixed when the deployment is created). */
type RingKey = Pick<HostRunRecord, 'deploymentId' | 'ringIndex'>;

function parsed<T>(schema: z.ZodType<T>, value: unknown): T | null {
  if (value === null || value === undefined) return null;
  const r = schema.safeParse(value);
  return r.success ? r.data : null;
}

function toHostRun(row: HostRunRow): HostRunRecord {
  return {
    id: row.id,
    ringId: row.ringId,
    deploymentId: row.ring.deploymentId,
    ringIndex: row.ring.index,
    hostId: row.hostId,
    hostName: row.hostName,
    status: hostRunStatusOf(row.state, row.step),
    state: row.state,
    step: row.step,
    attempt: row.attempt,
    position: row.position,
    tool: row.tool,
    targets: parsed(Targets, row.targets) ?? [],
    preBaseline: parsed(Baseline, row.preBaseline),
    postBaseline: parsed(Baseline, row.postBaseline),
    rebootNeeded: row.rebootNeeded,
    rebootedAt: row.rebootedAt,
    output: row.output,
    error: row.error,
    workerId: row.workerId,
    heartbeatAt: row.heartbeatAt,
    notBefore: row.notBefore,
    installSentAt: row.installSentAt,
    rebootSentAt: row.rebootSentAt,
    rollbackSentAt: row.rollbackSentAt,
    bootId: row.bootId,
    remoteJob: row.remoteJob,
    rollbackReport: parsed(RollbackReport, row.rollbackReport),
    rollbackError: row.rollbackError,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

function toRing(row: RingRow): RingRecord {
  return {
    id: row.id,
    deploymentId: row.deploymentId,
    index: row.index,
    name: row.name,
    state: row.state,
    concurrency: row.concurrency,
    failureBudget:
      row.failureBudgetPercent !== null
        ? { percent: row.failureBudgetPercent }
        : { count: row.failureBudget ?? 0 },
    soakSeconds: row.soakSeconds,
    soakUntil: row.soakUntil,
    notBefore: row.notBefore,
    flowGeneration: row.flowGeneration,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

/** A host-run row read without its ring, completed with the ring the caller already knows. */
function withRing(row: Prisma.HostRunGetPayload<object>, ring: RingKey): HostRunRecord {
  return toHostRun({ ...row, ring: { deploymentId: ring.deploymentId, index: ring.ringIndex } });
}

/** A HostRun row as `$queryRaw` returns it (same columns as the model; JSON already parsed). */
type RawHostRunRow = Record<string, unknown>;

function asDate(v: Date | string): Date {
  return v instanceof Date ? v : new Date(v);
}

const HOST_RUN_DATES = [
  'notBefore',
  'installSentAt',
  'rebootSentAt',
  'rollbackSentAt',
  'rebootedAt',
  'heartbeatAt',
  'startedAt',
  'finishedAt',
  'updatedAt',
] as const;
const DEPLOYMENT_DATES = ['createdAt', 'startedAt', 'finishedAt', 'pausedAt', 'updatedAt'] as const;
const RING_DATES = ['soakUntil', 'notBefore', 'startedAt', 'finishedAt', 'updatedAt'] as const;

/** A row read with plain SQL, with the timestamps a driver or row_to_json left as text as Date. */
function datesOf(row: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const r = { ...row };
  for (const k of keys) {
    const v = r[k];
    if (typeof v === 'string') r[k] = new Date(v);
  }
  return r;
}

/** A host-run row read with plain SQL (the claim), as a record. */
function fromRawHostRun(row: RawHostRunRow, ring: RingKey): HostRunRecord {
  return withRing(datesOf(row, HOST_RUN_DATES) as Prisma.HostRunGetPayload<object>, ring);
}

/** A unique-index violation (PostgreSQL 23505), from the driver or through the Prisma client. */
function isUniqueViolation(err: unknown): boolean {
  const e = err as {
    code?: unknown;
    meta?: { driverAdapterError?: { cause?: { kind?: unknown; originalCode?: unknown } } };
  };
  const cause = e.meta?.driverAdapterError?.cause;
  return e.code === '23505' || cause?.kind === 'UniqueConstraintViolation' || cause?.originalCode === '23505';
}

const CORE_STATUSES: ReadonlySet<string> = new Set(DEPLOYMENT_STATUSES);

function toDeployment(row: DeploymentRow): DeploymentRecord {
  const status: DeploymentStatus = CORE_STATUSES.has(row.state) ? (row.state as DeploymentStatus) : 'halted';
  const pausedFrom = row.pausedFrom as PausableStatus | null;
  return {
    id: row.id,
    number: row.number,
    changeRequestId: row.changeRequestId,
    changeNumber: row.changeRequest.number,
    state: {
      status,
      ring: row.currentRing,
      ringCount: Math.max(1, row._count.rings),
      ...(pausedFrom ? { pausedFrom } : {}),
      ...(row.haltedReason ? { haltReason: row.haltedReason } : {}),
    },
    plan: row.plan,
    emergency: row.emergency,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    pausedAt: row.pausedAt,
  };
}

const includeDeployment = {
  changeRequest: { select: { number: true } },
  _count: { select: { rings: true } },
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the status of a change request becomes when its deployment reaches a state. */
const CHANGE_STATUS: Partial<Record<DeploymentStatus, string>> = {
  waiting_window: 'scheduled',
  running: 'deploying',
  completed: 'completed',
  halted: 'halted',
  rolled_back: 'rolled_back',
  rollback_failed: 'failed',
  aborted: 'cancelled',
};

// ---------------------------------------------------------------------------------------------
// the statements of a rollout's hot path (plain SQL, see ../sql.ts)

/**
 * $1 ring, $2 lease expiry, $3 slot hint, $4 engine time, $5 worker, $6 real time, $7 and $8 the
 * state and step a pending host begins in (BEGUN, from the core state machine). The ring must
 * be the deployment's current ring while it is waiting for or running it. A running host whose
 * lease expired (or that this same worker held: a claim retried after its answer was lost), or a
 * host whose result is unknown and due to be looked at again, is taken over first (it keeps its
 * slot and its state); otherwise the first pending host (plan order) whose start has come, in the
 * hinted slot if free, else the lowest free one. Unknown hosts hold their slot: their install may
 * still be running.
 */
const CLAIM_NEXT_HOST = `
  WITH ring AS (
    SELECT r.id, r.concurrency, r."deploymentId", r.index
    FROM "DeploymentRing" r JOIN "Deployment" d ON d.id = r."deploymentId"
    WHERE r.id = $1::uuid AND d.state IN ('waiting_window', 'running') AND d."currentRing" = r.index
  ),
  orphan AS (
    SELECT h.id, h.slot FROM "HostRun" h JOIN ring ON h."ringId" = ring.id
    WHERE (h.state = 'running'
        OR (h.state = 'unknown' AND (h."notBefore" IS NULL OR h."notBefore" <= $6::timestamptz)))
      AND (h."workerId" IS NULL OR h."heartbeatAt" IS NULL OR h."heartbeatAt" < $2::timestamptz
        OR h."workerId" = $5)
    ORDER BY h.position LIMIT 1
    FOR UPDATE OF h SKIP LOCKED
  ),
  free AS (
    SELECT s AS slot FROM ring, generate_series(0, ring.concurrency - 1) AS s
    WHERE NOT EXISTS (
      SELECT 1 FROM "HostRun" u WHERE u."ringId" = ring.id AND u.state IN ('running', 'unknown') AND u.slot = s)
    ORDER BY (s = $3::int) DESC, s LIMIT 1
  ),
  next AS (
    SELECT h.id, free.slot FROM "HostRun" h JOIN ring ON h."ringId" = ring.id CROSS JOIN free
    WHERE NOT EXISTS (SELECT 1 FROM orphan)
      AND h.state = 'pending' AND (h."notBefore" IS NULL OR h."notBefore" <= $4::timestamptz)
    ORDER BY h.position LIMIT 1
    FOR UPDATE OF h SKIP LOCKED
  ),
  picked AS (
    SELECT id, slot, true AS resumed FROM orphan
    UNION ALL SELECT id, slot, false AS resumed FROM next
  )
  UPDATE "HostRun" h SET
    state = CASE WHEN p.resumed THEN h.state ELSE $7::"HostRunState" END,
    step = CASE WHEN p.resumed THEN h.step ELSE $8::"HostRunStep" END,
    slot = p.slot,
    "workerId" = $5,
    "heartbeatAt" = $6::timestamptz,
    "startedAt" = CASE WHEN p.resumed THEN h."startedAt" ELSE $4::timestamptz END,
    attempt = h.attempt + 1,
    "updatedAt" = $6::timestamptz
  FROM picked p, ring
  WHERE h.id = p.id
  RETURNING h.*, p.resumed, ring."deploymentId"::text AS "deploymentId", ring.index AS "ringIndex"`;

/** What a claimed pending host becomes: the core state machine's `begin`, as stored. */
const BEGUN = storedHostRunStatus(mustTransitionHostRun('pending', { type: 'begin' }), null);

/**
 * $1 change, $2 plan (JSON), $3 emergency, $4 created by, $5 rings and $6 host runs (JSON arrays,
 * host runs naming their ring by index): the deployment, its rings and host runs at once.
 */
const CREATE_DEPLOYMENT = `
  WITH dep AS (
    INSERT INTO "Deployment" ("changeRequestId", plan, emergency, "createdBy", "updatedAt")
    VALUES ($1::uuid, $2::jsonb, $3::boolean, $4, now())
    RETURNING id
  ),
  rings AS (
    INSERT INTO "DeploymentRing" ("deploymentId", index, name, concurrency, "failureBudget",
      "failureBudgetPercent", "soakSeconds", "notBefore", "healthChecks", "updatedAt")
    SELECT dep.id, r.index, r.name, r.concurrency, r."failureBudget", r."failureBudgetPercent",
      r."soakSeconds", r."notBefore", r."healthChecks", now()
    FROM dep, jsonb_to_recordset($5::jsonb) AS r(index int, name text, concurrency int,
      "failureBudget" int, "failureBudgetPercent" float8, "soakSeconds" int, "notBefore" timestamptz,
      "healthChecks" jsonb)
    RETURNING id, index
  ),
  runs AS (
    INSERT INTO "HostRun" ("ringId", "hostId", "hostName", position, tool, targets, "notBefore", "updatedAt")
    SELECT rings.id, h."hostId", h."hostName", h.position, h.tool, h.targets, h."notBefore", now()
    FROM jsonb_to_recordset($6::jsonb) AS h(ring int, "hostId" uuid, "hostName" text, position int,
      tool text, targets jsonb, "notBefore" timestamptz)
    JOIN rings ON rings.index = h.ring
  )
  SELECT id::text AS id FROM dep`;

/** $1 deployment, $2 ring index: the deployment with its change number and ring count, and the ring. */
const LANE_CONTEXT = `
  SELECT d.*, c.number AS "changeNumber",
    (SELECT count(*)::int FROM "DeploymentRing" x WHERE x."deploymentId" = d.id) AS "ringCount",
    (SELECT count(*)::int FROM "HostRun" h WHERE h."ringId" = r.id) AS "ringSize",
    row_to_json(r.*) AS ring
  FROM "Deployment" d
  JOIN "ChangeRequest" c ON c.id = d."changeRequestId"
  JOIN "DeploymentRing" r ON r."deploymentId" = d.id AND r.index = $2::int
  WHERE d.id = $1::uuid`;

/**
 * $1 ring, $2 lease expiry, $3 engine time, $4 real time: what a claim that found nothing should make
 * of it. Unknown hosts are looked at again by real time (the host's clock, not the engine's).
 */
const NOTHING_TO_CLAIM = `
  SELECT
    (d.state IN ('waiting_window', 'running') AND d."currentRing" = r.index) AS working,
    r.concurrency,
    (SELECT count(*)::int FROM "HostRun" h WHERE h."ringId" = r.id AND h.state IN ('running', 'unknown')) AS running,
    (SELECT count(*)::int FROM "HostRun" h WHERE h."ringId" = r.id
      AND (h.state = 'running' OR (h.state = 'unknown' AND (h."notBefore" IS NULL OR h."notBefore" <= $4::timestamptz)))
      AND (h."workerId" IS NULL OR h."heartbeatAt" IS NULL OR h."heartbeatAt" < $2::timestamptz)) AS orphans,
    (SELECT count(*)::int FROM "HostRun" h WHERE h."ringId" = r.id AND h.state = 'pending'
      AND (h."notBefore" IS NULL OR h."notBefore" <= $3::timestamptz)) AS ready,
    (SELECT min(h."notBefore") FROM "HostRun" h WHERE h."ringId" = r.id AND h.state = 'pending') AS later,
    (SELECT min(h."notBefore") FROM "HostRun" h WHERE h."ringId" = r.id AND h.state = 'unknown'
      AND h."workerId" IS NULL) AS "unknownLater"
  FROM "DeploymentRing" r JOIN "Deployment" d ON d.id = r."deploymentId"
  WHERE r.id = $1::uuid`;

/** The columns progress data may write, with their SQL types (the only names a write uses). */
const HOST_RUN_COLUMNS: Record<keyof HostRunData, 'jsonb' | 'timestamptz' | 'text' | 'boolean'> = {
  preBaseline: 'jsonb',
  postBaseline: 'jsonb',
  rebootNeeded: 'boolean',
  rebootedAt: 'timestamptz',
  output: 'text',
  error: 'text',
  notBefore: 'timestamptz',
  installSentAt: 'timestamptz',
  rebootSentAt: 'timestamptz',
  rollbackSentAt: 'timestamptz',
  bootId: 'text',
  remoteJob: 'text',
  rollbackReport: 'jsonb',
  rollbackError: 'text',
  finishedAt: 'timestamptz',
  heartbeatAt: 'timestamptz',
  targets: 'jsonb',
};

/** Prepared-statement names of the progress writes, by text (a few dozen combinations at most). */
const SAVE_STATEMENTS = new Map<string, string>();

function saveStatementName(text: string): string {
  let name = SAVE_STATEMENTS.get(text);
  if (name === undefined) {
    name = `deployment-save-${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    SAVE_STATEMENTS.set(text, name);
  }
  return name;
}

/**
 * A value as its statement parameter. Text from a host (output, errors, baselines) may hold NUL
 * characters, which PostgreSQL text and jsonb refuse: they are stored as U+FFFD instead of failing
 * the write (and with it the host's progress).
 */
function sqlValue(type: (typeof HOST_RUN_COLUMNS)[keyof HostRunData], value: unknown): unknown {
  if (value === null) return null;
  if (type === 'jsonb') {
    return JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'string' ? v.replaceAll('\u0000', '\ufffd') : v,
    );
  }
  if (type === 'timestamptz') return (value as Date).toISOString();
  if (typeof value === 'string') return value.replaceAll('\u0000', '\ufffd');
  return value;
}

export class DeploymentRepository {
  /** `sql` runs the hot path's statements: the database's `sql` (same database and pool). */
  constructor(
    private readonly prisma: DbClient,
    private readonly sql: SqlRunner,
  ) {}

  // ---- change requests (read) ----------------------------------------------------------------

  /** A change by id (uuid) or number ("42", "#42"), with its open findings. */
  async changeForDeployment(ref: string): Promise<ChangeForDeployment> {
    const where = changeWhere(ref);
    const row = await this.prisma.changeRequest.findFirst({
      where,
      include: {
        team: { select: { name: true } },
        findings: {
          // retired hosts are not deployed to
          where: { finding: { status: 'open', host: { retiredAt: null } } },
          include: {
            finding: {
              select: {
                id: true,
                hostId: true,
                packageName: true,
                sourcePackage: true,
                installedVersion: true,
                fixedVersion: true,
                owner: true,
                ownerKind: true,
                host: { select: { name: true } },
              },
            },
          },
        },
      },
    });
    if (!row) throw new NotFoundError(`change ${ref} does not exist`, { details: { change: ref } });
    return {
      id: row.id,
      number: row.number,
      status: row.status,
      kind: row.kind === 'third_party' ? 'third-party' : row.kind,
      ecosystem: row.ecosystem,
      packageName: row.packageName,
      sourcePackage: row.sourcePackage,
      fixedVersion: row.fixedVersion,
      emergency: row.emergency,
      kev: row.kev,
      riskScore: row.riskScore,
      team: row.team?.name ?? null,
      findings: row.findings
        .map((f) => ({
          findingId: f.finding.id,
          hostId: f.finding.hostId,
          hostName: f.finding.host.name,
          packageName: f.finding.packageName,
          sourcePackage: f.finding.sourcePackage,
          installedVersion: f.finding.installedVersion,
          fixedVersion: f.finding.fixedVersion,
          owner: f.finding.owner,
          ownerKind: f.finding.ownerKind,
        }))
        .sort((a, b) => a.hostName.localeCompare(b.hostName) || a.packageName.localeCompare(b.packageName)),
    };
  }

  /**
   * Per host, the packages of its latest snapshot whose source package is one of `sourceNames`
   * (Debian: the other binaries built from the fixed source), with the host's package manager.
   */
  async hostSourcePackages(
    hostIds: readonly string[],
    sourceNames: readonly string[],
  ): Promise<Map<string, HostSourcePackages>> {
    const out = new Map<string, HostSourcePackages>();
    if (hostIds.length === 0) return out;
    const snapshots = await this.prisma.$queryRaw<
      { id: string; hostId: string; packageManager: string; osId: string; osVersionId: string }[]
    >`
      SELECT DISTINCT ON (s."hostId") s.id::text AS id, s."hostId"::text AS "hostId",
        s."packageManager"::text AS "packageManager", s."osId", s."osVersionId"
      FROM "InventorySnapshot" s
      WHERE s."hostId" IN (SELECT jsonb_array_elements_text(${JSON.stringify(hostIds)}::jsonb)::uuid)
      ORDER BY s."hostId", s."collectedAt" DESC, s."createdAt" DESC`;
    if (snapshots.length === 0) return out;
    const packages = await this.prisma.installedPackage.findMany({
      where: {
        snapshotId: { in: snapshots.map((s) => s.id) },
        sourceName: { in: [...sourceNames] },
      },
      select: { snapshotId: true, name: true, version: true, arch: true, sourceName: true },
      orderBy: [{ name: 'asc' }, { arch: 'asc' }],
    });
    for (const s of snapshots) {
      out.set(s.hostId, {
        hostId: s.hostId,
        packageManager: s.packageManager as HostSourcePackages['packageManager'],
        osId: s.osId,
        osVersionId: s.osVersionId,
        packages: packages
          .filter((p) => p.snapshotId === s.id)
          .map((p) => ({ name: p.name, version: p.version, arch: p.arch, sourceName: p.sourceName })),
      });
    }
    return out;
  }

  /** Deployments of a change that have not reached a final state. */
  async activeForChange(changeRequestId: string): Promise<DeploymentRecord[]> {
    const rows = await this.prisma.deployment.findMany({
      where: {
        changeRequestId,
        state: { notIn: ['completed', 'rolled_back', 'aborted', 'failed', 'rollback_failed'] },
      },
      include: includeDeployment,
    });
    return rows.map(toDeployment);
  }

  /** A change's id, number and status, by id (uuid) or number ("42", "#42"). */
  async changeRef(ref: string): Promise<{ id: string; number: number; status: string }> {
    const row = await this.prisma.changeRequest.findFirst({
      where: changeWhere(ref),
      select: { id: true, number: true, status: true },
    });
    if (!row) throw new NotFoundError(`change ${ref} does not exist`, { details: { change: ref } });
    return row;
  }

  /** The change's most recent deployment, whatever its state. */
  async latestForChange(changeRequestId: string): Promise<DeploymentRecord | undefined> {
    const row = await this.prisma.deployment.findFirst({
      where: { changeRequestId },
      orderBy: [{ createdAt: 'desc' }, { number: 'desc' }],
      include: includeDeployment,
    });
    return row ? toDeployment(row) : undefined;
  }

  /** The people whose approval of the change stands (not revoked), first approval first. */
  async approversOf(
    changeRequestId: string,
  ): Promise<{ actorId: string; actorDisplay: string | null; surface: string }[]> {
    const rows = await this.prisma.decision.findMany({
      where: { changeRequestId, kind: 'approve', revokedAt: null },
      orderBy: { createdAt: 'asc' },
      select: { actorId: true, actorDisplay: true, surface: true },
    });
    const seen = new Set<string>();
    return rows.filter((r) => (seen.has(r.actorId) ? false : (seen.add(r.actorId), true)));
  }

  // ---- create and read ----------------------------------------------------------------------

  /** Stores a deployment with its rings and host runs (one transaction). */
  /**
   * Stores a planned deployment with its rings and every host run, in one statement (a Prisma
   * nested create of a few hundred host runs costs more than a tenth of a second of CPU).
   */
  async create(input: NewDeployment): Promise<DeploymentRecord> {
    if (input.rings.length === 0) throw new ValidationError('a deployment needs at least one ring');
    const rings = input.rings.map((ring, index) => ({
      index,
      name: ring.name,
      concurrency: ring.concurrency,
      failureBudget: 'count' in ring.failureBudget ? ring.failureBudget.count : null,
      failureBudgetPercent: 'percent' in ring.failureBudget ? ring.failureBudget.percent : null,
      soakSeconds: ring.soakSeconds,
      notBefore: ring.notBefore?.toISOString() ?? null,
      healthChecks: ring.healthChecks ?? [],
    }));
    const hosts = input.rings.flatMap((ring, index) =>
      ring.hosts.map((h, position) => ({
        ring: index,
        hostId: h.hostId,
        hostName: h.hostName,
        position,
        tool: h.tool,
        targets: h.targets,
        notBefore: h.notBefore?.toISOString() ?? null,
      })),
    );
    let rows: { id: string }[];
    try {
      rows = await this.sql.query<{ id: string }>(CREATE_DEPLOYMENT, [
        input.changeRequestId,
        JSON.stringify(input.plan),
        input.emergency,
        input.createdBy,
        JSON.stringify(rings),
        JSON.stringify(hosts),
      ]);
    } catch (err) {
      // One active deployment per change (a unique index): another request created it first.
      if (isUniqueViolation(err)) {
        const active = (await this.activeForChange(input.changeRequestId))[0];
        throw new PatchbotError(
          'CONFLICT',
          active
            ? `change #${active.changeNumber} already has deployment #${active.number} (${active.state.status.replaceAll('_', ' ')})`
            : 'the change already has a deployment under way',
          { cause: err },
        );
      }
      throw err;
    }
    const id = rows[0]?.id;
    if (id === undefined) throw new PatchbotError('DATABASE', 'the deployment was not stored');
    return this.get(id);
  }

  /** A deployment by id (uuid) or number ("7", "#7"). */
  async get(ref: string): Promise<DeploymentRecord> {
    const row = await this.prisma.deployment.findFirst({
      where: deploymentWhere(ref),
      include: includeDeployment,
    });
    if (!row) throw new NotFoundError(`deployment ${ref} does not exist`, { details: { deployment: ref } });
    return toDeployment(row);
  }

  /** A deployment with every ring and host run (rings and hosts in plan order). */
  async detail(ref: string): Promise<DeploymentDetail> {
    const dep = await this.get(ref);
    const rings = await this.prisma.deploymentRing.findMany({
      where: { deploymentId: dep.id },
      orderBy: { index: 'asc' },
      include: { hostRuns: { orderBy: { position: 'asc' }, include: includeRing } },
    });
    return {
      ...dep,
      rings: rings.map((r) => ({ ...toRing(r), hosts: r.hostRuns.map(toHostRun) })),
    };
  }

  /**
   * What a lane works with, in one statement: the deployment (by id), one of its rings and the
   * ring's host count.
   * Undefined when either does not exist.
   */
  async laneContext(
    deploymentId: string,
    ringIndex: number,
  ): Promise<{ deployment: DeploymentRecord; ring: RingRecord; ringSize: number } | undefined> {
    const rows = await this.sql.query<Record<string, unknown> & { ring: Record<string, unknown> }>(
      LANE_CONTEXT,
      [deploymentId, ringIndex],
      { name: 'deployment-lane-context' },
    );
    const row = rows[0];
    if (!row) return undefined;
    const { ring, changeNumber, ringCount, ringSize, ...dep } = row;
    const deployment = toDeployment({
      ...(datesOf(dep, DEPLOYMENT_DATES) as Prisma.DeploymentGetPayload<object>),
      changeRequest: { number: Number(changeNumber) },
      _count: { rings: Number(ringCount) },
    });
    return { deployment, ring: toRing(datesOf(ring, RING_DATES) as RingRow), ringSize: Number(ringSize) };
  }

  async ring(deploymentId: string, index: number): Promise<RingRecord> {
    const row = await this.prisma.deploymentRing.findUnique({
      where: { deploymentId_index: { deploymentId, index } },
    });
    if (!row) throw new NotFoundError(`deployment ${deploymentId} has no ring ${index + 1}`);
    return toRing(row);
  }

  async hostRuns(ringId: string): Promise<HostRunRecord[]> {
    const rows = await this.prisma.hostRun.findMany({
      where: { ringId },
      orderBy: { position: 'asc' },
      include: includeRing,
    });
    return rows.map(toHostRun);
  }

  /**
   * A ring's host runs in plan order, only what starting and finishing a ring looks at (not their
   * packages, baselines or output).
   */
  async ringHosts(ringId: string): Promise<
    {
      id: string;
      hostName: string;
      state: DbHostRunState;
      workerId: string | null;
      heartbeatAt: Date | null;
      notBefore: Date | null;
    }[]
  > {
    return this.prisma.hostRun.findMany({
      where: { ringId },
      orderBy: { position: 'asc' },
      select: { id: true, hostName: true, state: true, workerId: true, heartbeatAt: true, notBefore: true },
    });
  }

  /** How many host runs of a deployment are in each state. */
  async hostStateCounts(deploymentId: string): Promise<Partial<Record<DbHostRunState, number>>> {
    const groups = await this.prisma.hostRun.groupBy({
      by: ['state'],
      where: { ring: { deploymentId } },
      _count: { _all: true },
    });
    return Object.fromEntries(groups.map((g) => [g.state, g._count._all]));
  }

  async hostRun(id: string): Promise<HostRunRecord> {
    const row = await this.prisma.hostRun.findUnique({ where: { id }, include: includeRing });
    if (!row) throw new NotFoundError(`host run ${id} does not exist`);
    return toHostRun(row);
  }

  /** Deployments in a state where jobs should exist for them (for the reconciler). */
  async inFlight(): Promise<DeploymentRecord[]> {
    const rows = await this.prisma.deployment.findMany({
      where: { state: { in: ['waiting_window', 'running', 'soaking', 'rolling_back'] } },
      include: includeDeployment,
      orderBy: { createdAt: 'asc' },
    });
    return rows.map(toDeployment);
  }

  async list(options: { limit?: number } = {}): Promise<DeploymentRecord[]> {
    const rows = await this.prisma.deployment.findMany({
      include: includeDeployment,
      orderBy: { createdAt: 'desc' },
      take: options.limit ?? 50,
    });
    return rows.map(toDeployment);
  }

  // ---- deployment state -----------------------------------------------------------------------

  /**
   * Applies an event through the core state machine with an optimistic check: the row changes
   * only if its state and ring are still what was read. Re-reads and tries again when another
   * writer got there first (as long as the event is still legal). Returns the states before and
   * after; `ok: false` with the state machine's sentence when the event is not legal.
   */
  async transition(
    deploymentId: string,
    event: DeploymentEvent,
    at: Date,
    rings: readonly RingUpdate[] = [],
    outbox: (record: DeploymentRecord) => readonly OutboxEntry[] = () => [],
  ): Promise<
    | { ok: true; from: DeploymentState; to: DeploymentState; record: DeploymentRecord }
    | { ok: false; error: string; state: DeploymentState }
  > {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const current = await this.get(deploymentId);
      const r = transitionDeployment(current.state, event);
      if (!r.ok) return { ok: false, error: r.error, state: current.state };
      const to = r.state;
      const data: Prisma.DeploymentUpdateManyMutationInput = {
        state: to.status,
        currentRing: to.ring,
        pausedFrom: to.pausedFrom ?? null,
        haltedReason: to.haltReason ?? null,
      };
      if (to.status === 'paused') data.pausedAt = at;
      if (current.state.status === 'paused') data.pausedAt = null;
      if (to.status === 'running' && current.startedAt === null) data.startedAt = at;
      if (['completed', 'rolled_back', 'rollback_failed', 'aborted'].includes(to.status))
        data.finishedAt = at;
      if (to.status === 'rolling_back') data.finishedAt = null;
      const change = CHANGE_STATUS[to.status];
      const changeMoves = change !== undefined && to.status !== current.state.status;
      // The record as it will be stored, without reading it back.
      const record: DeploymentRecord = {
        ...current,
        state: { ...to, ringCount: current.state.ringCount },
        pausedAt: data.pausedAt !== undefined ? (data.pausedAt as Date | null) : current.pausedAt,
        startedAt: data.startedAt !== undefined ? (data.startedAt as Date) : current.startedAt,
        finishedAt: data.finishedAt !== undefined ? (data.finishedAt as Date | null) : current.finishedAt,
      };
      const messages = outbox(record);
      // The deployment row, its rings and its change move together: a reader never sees a
      // completed deployment whose last ring still runs.
      const apply = async (db: TxClient): Promise<boolean> => {
        const updated = await db.deployment.updateMany({
          where: {
            id: deploymentId,
            state: current.state.status,
            currentRing: current.state.ring,
          },
          data,
        });
        if (updated.count !== 1) return false;
        for (const r of rings)
          await db.deploymentRing.updateMany({
            where: { id: r.ringId, state: { in: [...r.from] } },
            data: { state: r.to, ...r.data },
          });
        await insertOutbox(db, messages);
        if (changeMoves)
          await db.changeRequest.updateMany({
            where: { id: current.changeRequestId },
            data: {
              status: change as Prisma.ChangeRequestUpdateManyMutationInput['status'],
              ...(['completed', 'rolled_back', 'cancelled'].includes(change) ? { closedAt: at } : {}),
            },
          });
        return true;
      };
      const moved =
        rings.length === 0 && !changeMoves && messages.length === 0
          ? await apply(this.prisma)
          : await this.prisma.$transaction((tx) => apply(tx));
      if (moved) return { ok: true, from: current.state, to, record };
    }
    throw new PatchbotError('CONFLICT', `deployment ${deploymentId} keeps changing; try again`);
  }

  // ---- rings --------------------------------------------------------------------------------

  /** Sets a ring's state when it is one of `from`; returns whether it changed. */
  async setRingState(
    ringId: string,
    from: readonly RingStateName[],
    to: RingStateName,
    data: RingUpdate['data'] = {},
    outbox: readonly OutboxEntry[] = [],
  ): Promise<boolean> {
    const update = (db: TxClient) =>
      db.deploymentRing.updateMany({
        where: { id: ringId, state: { in: [...from] } },
        data: { state: to, ...data },
      });
    if (outbox.length === 0) return (await update(this.prisma)).count === 1;
    return this.prisma.$transaction(async (tx) => {
      const r = await update(tx);
      if (r.count === 1) await insertOutbox(tx, outbox);
      return r.count === 1;
    });
  }

  /**
   * Bumps the ring's job generation from `seen` to `seen + 1`; only one caller per generation wins
   * (it then enqueues the ring's jobs with ids that carry the new generation).
   */
  async bumpFlowGeneration(ringId: string, seen: number): Promise<number | undefined> {
    const r = await this.prisma.deploymentRing.updateMany({
      where: { id: ringId, flowGeneration: seen },
      data: { flowGeneration: seen + 1 },
    });
    return r.count === 1 ? seen + 1 : undefined;
  }

  /**
   * Pending hosts of a ring (all, or those of `ids`) become skipped (the deployment stopped, a
   * window that never opens); returns their names.
   */
  async skipPending(ringId: string, reason: string, at: Date, ids?: readonly string[]): Promise<string[]> {
    const rows = await this.prisma.hostRun.updateManyAndReturn({
      where: { ringId, state: 'pending', ...(ids ? { id: { in: [...ids] } } : {}) },
      data: { state: 'skipped', error: reason, finishedAt: at },
      select: { hostName: true },
    });
    return rows.map((r) => r.hostName);
  }

  /** Sets the earliest start of a ring's pending hosts (all, or those of `ids`) at ring start. */
  async setPendingNotBefore(
    ringId: string,
    ids: readonly string[] | 'all',
    notBefore: Date | null,
  ): Promise<void> {
    await this.prisma.hostRun.updateMany({
      where: { ringId, state: 'pending', ...(ids === 'all' ? {} : { id: { in: [...ids] } }) },
      data: { notBefore },
    });
  }

  // ---- host runs ----------------------------------------------------------------------------

  /**
   * Claims the next host of a ring for `workerId`, in one statement: first a host whose worker died
   * mid-run (lease older than `leaseMs`; it keeps its slot), then the next pending host (plan
   * order) whose earliest start has come, in a free concurrency slot (`slotHint` first). Nothing is
   * claimed once the deployment stopped working on this ring (paused, halted, aborted, moved on).
   *
   * Concurrency is a constraint, not a count: running hosts of a ring hold distinct slots below the
   * ring's concurrency (a partial unique index), and `FOR UPDATE SKIP LOCKED` keeps two claims off
   * one host. Two claims that picked the same free slot at once: the second fails on the index and
   * is tried again with what it then sees.
   */
  async claimNextHost(
    ringId: string,
    workerId: string,
    options: { now: Date; realNow: Date; leaseMs: number; slotHint?: number },
  ): Promise<ClaimResult> {
    const expiry = new Date(options.realNow.getTime() - options.leaseMs);
    const hint = Math.max(0, Math.trunc(options.slotHint ?? 0));
    for (let attempt = 0; ; attempt += 1) {
      type Claimed = RawHostRunRow & { resumed: boolean; deploymentId: string; ringIndex: number };
      let rows: Claimed[];
      try {
        rows = await this.sql.query<Claimed>(
          CLAIM_NEXT_HOST,
          [
            ringId,
            expiry.toISOString(),
            hint,
            options.now.toISOString(),
            workerId,
            options.realNow.toISOString(),
            BEGUN.state,
            BEGUN.step,
          ],
          { name: 'deployment-claim-next-host' },
        );
      } catch (err) {
        if (isUniqueViolation(err) && attempt < 5) continue;
        if (isUniqueViolation(err)) return { kind: 'busy' };
        throw err;
      }
      const row = rows[0];
      if (row) {
        const run = fromRawHostRun(row, { deploymentId: row.deploymentId, ringIndex: row.ringIndex });
        return { kind: 'claimed', run, resumed: row.resumed };
      }
      const why = await this.nothingToClaim(ringId, options.now, expiry, options.realNow);
      // Another claim held the host this instant: look again at once (a few times).
      if (why === 'again') {
        if (attempt < 5) continue;
        return { kind: 'busy' };
      }
      return why;
    }
  }

  /**
   * Why a claim found nothing: the lane stops (done), comes back later (busy: every slot taken) or
   * at a time (wait), or claims again (another claim was taking the host it would have taken).
   */
  private async nothingToClaim(
    ringId: string,
    now: Date,
    expiry: Date,
    realNow: Date,
  ): Promise<Exclude<ClaimResult, { kind: 'claimed' }> | 'again'> {
    const found = await this.sql.query<{
      working: boolean;
      concurrency: number;
      running: number;
      ready: number;
      orphans: number;
      later: Date | string | null;
      unknownLater: Date | string | null;
    }>(NOTHING_TO_CLAIM, [ringId, expiry.toISOString(), now.toISOString(), realNow.toISOString()], {
      name: 'deployment-nothing-to-claim',
    });
    const f = found[0];
    if (!f?.working) return { kind: 'done' };
    if (f.orphans > 0 || (f.ready > 0 && f.running < f.concurrency)) return 'again';
    if (f.ready > 0) return { kind: 'busy' };
    const recheck =
      f.unknownLater === null ? undefined : asDate(f.unknownLater).getTime() - realNow.getTime();
    const wait = f.later === null ? undefined : asDate(f.later).getTime() - now.getTime();
    if (recheck !== undefined && (wait === undefined || recheck < wait)) {
      return { kind: 'recheck', delayMs: Math.max(50, recheck) };
    }
    if (f.later !== null) return { kind: 'wait', until: asDate(f.later) };
    // The remaining hosts are held by other lanes: this lane has nothing to do.
    return { kind: 'done' };
  }

  /**
   * Claims a host run for rollback: one whose install was sent and that is succeeded, failed or
   * rollback_failed (or rolling back under a dead worker). Returns null when another live worker
   * holds it or it has nothing to roll back.
   */
  async claimForRollback(
    hostRunId: string,
    workerId: string,
    options: { realNow: Date; leaseMs: number },
  ): Promise<HostRunRecord | null> {
    const expiry = new Date(options.realNow.getTime() - options.leaseMs);
    const r = await this.prisma.hostRun.updateMany({
      where: {
        id: hostRunId,
        installSentAt: { not: null },
        OR: [
          { state: { in: ['succeeded', 'failed', 'rollback_failed'] } },
          {
            state: { in: ['rolling_back', 'unknown'] },
            OR: [{ workerId: null }, { workerId }, { heartbeatAt: null }, { heartbeatAt: { lt: expiry } }],
          },
        ],
      },
      data: { workerId, heartbeatAt: options.realNow },
    });
    return r.count === 1 ? this.hostRun(hostRunId) : null;
  }

  /**
   * Stores a host run's progress since it was last saved: `events` move it on from `saved` (the
   * record as the row holds it) through the core state machine, and `data` is written with them,
   * in one `UPDATE ... WHERE state, step and workerId are still what was saved`. A worker that lost
   * its lease changes nothing and gets null (stop working on the host). Returns the run as now
   * stored, without reading it back.
   */
  async saveProgress(
    saved: HostRunRecord,
    workerId: string,
    events: readonly HostRunEvent[],
    data: HostRunData = {},
    outbox: readonly OutboxEntry[] = [],
  ): Promise<HostRunRecord | null> {
    let status = saved.status;
    let stored = { state: saved.state, step: saved.step };
    for (const event of events) {
      const next = transitionHostRun(status, event);
      if (!next.ok) throw new PatchbotError('CONFLICT', next.error, { details: { hostRun: saved.id } });
      status = next.state;
      stored = storedHostRunStatus(status, stored.step);
    }
    const final = (FINAL_HOST_STATES as readonly string[]).includes(stored.state);
    const params: unknown[] = [saved.id, saved.state, saved.step, workerId, stored.state, stored.step];
    const sets = ['state = $5::"HostRunState"', 'step = $6::"HostRunStep"', '"updatedAt" = now()'];
    if (final) sets.push('"workerId" = NULL');
    for (const [key, type] of Object.entries(HOST_RUN_COLUMNS) as [keyof HostRunData, string][]) {
      const value = data[key];
      if (value === undefined) continue;
      params.push(sqlValue(HOST_RUN_COLUMNS[key], value));
      sets.push(`"${key}" = $${params.length}::${type}`);
    }
    const update = `UPDATE "HostRun" SET ${sets.join(', ')}
       WHERE id = $1::uuid AND state = $2::"HostRunState" AND step IS NOT DISTINCT FROM $3::"HostRunStep"
         AND "workerId" = $4
       RETURNING id`;
    // Messages that report the step go into the outbox in the same statement: both or neither.
    let text = update;
    if (outbox.length > 0) {
      params.push(outboxJson(outbox));
      text = `WITH upd AS (${update}),
        ob AS (${INSERT_OUTBOX_FROM(`$${params.length}`)} FROM upd, ${OUTBOX_RECORDSET(`$${params.length}`)})
        SELECT id FROM upd`;
    }
    const record = (): HostRunRecord => ({
      ...saved,
      ...data,
      status,
      state: stored.state,
      step: stored.step,
      ...(final ? { workerId: null } : {}),
    });
    // The columns written vary; each combination is its own prepared statement.
    const name = saveStatementName(text);
    for (let attempt = 0; ; attempt += 1) {
      try {
        const rows = await this.sql.query<{ id: string }>(text, params, { name });
        return rows.length === 1 ? record() : null;
      } catch (err) {
        if (!isTransientDbError(err) || attempt >= SAVE_RETRIES) throw err;
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
        // The statement may have been applied before its answer was lost: look before trying again.
        const now = await retryTransient(() =>
          this.sql.query<{ state: DbHostRunState; step: DbHostRunStep | null; workerId: string | null }>(
            `SELECT state, step, "workerId" FROM "HostRun" WHERE id = $1::uuid`,
            [saved.id],
            { name: 'deployment-host-run-state' },
          ),
        );
        const row = now[0];
        if (!row) return null;
        const atSaved = row.state === saved.state && row.step === saved.step && row.workerId === workerId;
        const atTarget =
          row.state === stored.state &&
          row.step === stored.step &&
          (row.workerId === workerId || (final && row.workerId === null));
        // A step that moved the run on and is found done was applied (with its outbox rows).
        if (events.length > 0 && atTarget && !atSaved) return record();
        if (!atSaved) return null;
      }
    }
  }

  async heartbeat(runId: string, workerId: string, realNow: Date): Promise<boolean> {
    const rows = await this.sql.query<{ id: string }>(
      `UPDATE "HostRun" SET "heartbeatAt" = $3::timestamptz WHERE id = $1::uuid AND "workerId" = $2 RETURNING id`,
      [runId, workerId, realNow.toISOString()],
      { name: 'deployment-heartbeat' },
    );
    return rows.length === 1;
  }

  /** Gives a host back (its worker stops; another may resume it at once). */
  async release(runId: string, workerId: string, data: { notBefore?: Date | null } = {}): Promise<void> {
    await this.prisma.hostRun.updateMany({
      where: { id: runId, workerId },
      data: { workerId: null, heartbeatAt: null, ...data },
    });
  }

  /** Lets hosts whose rollback failed be tried again (a new rollback round). */
  async resetFailedRollbacks(deploymentId: string): Promise<void> {
    await this.prisma.hostRun.updateMany({
      where: { ring: { deploymentId }, state: 'rollback_failed' },
      data: { rollbackSentAt: null },
    });
  }
}

export interface HostRunData {
  preBaseline?: Baseline;
  postBaseline?: Baseline;
  rebootNeeded?: boolean;
  rebootedAt?: Date;
  output?: string | null;
  error?: string | null;
  notBefore?: Date | null;
  installSentAt?: Date;
  rebootSentAt?: Date;
  rollbackSentAt?: Date | null;
  bootId?: string | null;
  remoteJob?: string | null;
  rollbackReport?: RollbackReportEntry[];
  rollbackError?: string | null;
  finishedAt?: Date | null;
  heartbeatAt?: Date;
  targets?: PackageTargetRecord[];
}

/** A message for the outbox (src/db/repositories/outbox-repository.ts), written with a state change. */
export interface OutboxEntry {
  kind: string;
  destination: string;
  orderKey: string;
  payload: unknown;
}

const SAVE_RETRIES = 6;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const OUTBOX_RECORDSET = (param: string): string =>
  `jsonb_to_recordset(${param}::jsonb) AS x(kind text, destination text, "orderKey" text, payload jsonb)`;
const INSERT_OUTBOX_FROM = (_param: string): string =>
  `INSERT INTO "Outbox" (kind, destination, "orderKey", payload) SELECT x.kind, x.destination, x."orderKey", x.payload`;

function outboxJson(entries: readonly OutboxEntry[]): string {
  return JSON.stringify(
    entries.map((e) => ({
      kind: e.kind,
      destination: e.destination,
      orderKey: e.orderKey,
      payload: e.payload,
    })),
    (_key, v: unknown) => (typeof v === 'string' ? v.replaceAll('\u0000', '\ufffd') : v),
  );
}

/** Writes outbox entries through an interactive transaction's client. */
async function insertOutbox(db: TxClient, entries: readonly OutboxEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.$executeRawUnsafe(
    `${INSERT_OUTBOX_FROM('$1')} FROM ${OUTBOX_RECORDSET('$1')}`,
    outboxJson(entries),
  );
}

function deploymentWhere(ref: string): Prisma.DeploymentWhereInput {
  const s = ref.trim().replace(/^#/, '');
  if (UUID.test(s)) return { id: s.toLowerCase() };
  if (/^\d{1,9}$/.test(s)) return { number: Number(s) };
  throw new ValidationError(
    `expected a deployment number (e.g. 7) or id, got ${JSON.stringify(ref.slice(0, 80))}`,
  );
}
