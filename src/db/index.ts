/**
 * The database layer's front door: open a database and get every repository over it.
 */
import type { Database } from './client.js';
import { readMigrations } from './migrate.js';
import { AdvisoryRepository } from './repositories/advisory-repository.js';
import { AuditRepository } from './repositories/audit-repository.js';
import { EventRepository } from './repositories/event-repository.js';
import { DeploymentRepository } from './repositories/deployment-repository.js';
import { ChangeRepository } from './repositories/change-repository.js';
import { FindingRepository } from './repositories/finding-repository.js';
import { HostRepository } from './repositories/host-repository.js';
import { InventoryRepository } from './repositories/inventory-repository.js';
import { ItsmLinkRepository } from './repositories/itsm-link-repository.js';
import { MetricsQueries } from './repositories/metrics-queries.js';
import { NotificationQueries } from './repositories/notification-queries.js';
import { OutboxRepository } from './repositories/outbox-repository.js';
import { RescanQueries } from './repositories/rescan-queries.js';
import { StatusQueries } from './repositories/status-queries.js';
import { TeamRepository } from './repositories/team-repository.js';

export { openDatabase, type Database, type DatabaseKind } from './client.js';
export type { MigrateResult } from './migrate.js';
export { installationId } from './installation.js';

export interface Repositories {
  hosts: HostRepository;
  inventory: InventoryRepository;
  advisories: AdvisoryRepository;
  findings: FindingRepository;
  audit: AuditRepository;
  deployments: DeploymentRepository;
  changes: ChangeRepository;
  rescan: RescanQueries;
  teams: TeamRepository;
  notifications: NotificationQueries;
  outbox: OutboxRepository;
  events: EventRepository;
  status: StatusQueries;
  metrics: MetricsQueries;
  itsmLinks: ItsmLinkRepository;
}

export function createRepositories(db: Database): Repositories {
  return {
    hosts: new HostRepository(db.prisma),
    inventory: new InventoryRepository(db.prisma),
    advisories: new AdvisoryRepository(db.prisma),
    findings: new FindingRepository(db.prisma),
    audit: new AuditRepository(db.prisma),
    deployments: new DeploymentRepository(db.prisma, db.sql),
    changes: new ChangeRepository(db.prisma),
    rescan: new RescanQueries(db.prisma),
    teams: new TeamRepository(db.prisma),
    notifications: new NotificationQueries(db.prisma, db.kind),
    outbox: new OutboxRepository(db.prisma, db.sql),
    events: new EventRepository(db.prisma, db.sql),
    status: new StatusQueries(db.prisma),
    metrics: new MetricsQueries(db.prisma),
    itsmLinks: new ItsmLinkRepository(db.prisma),
  };
}

/** Names of the migrations in prisma/migrations that the database has not applied yet. */
export async function pendingMigrations(db: Database, migrationsDir?: string): Promise<string[]> {
  const files = await readMigrations(migrationsDir);
  let applied: { migration_name: string }[] = [];
  try {
    applied = await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
  } catch {
    // no bookkeeping table yet: nothing is applied
  }
  const done = new Set(applied.map((r) => r.migration_name));
  return files.map((f) => f.name).filter((n) => !done.has(n));
}
