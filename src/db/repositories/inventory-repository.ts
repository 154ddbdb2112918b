import { NotFoundError } from '../../core/errors.js';
import type { InstalledPackage, InventorySnapshot, OsFamily } from '../../core/model.js';
import type { DbClient } from '../client.js';

/** Rows per INSERT: well below PostgreSQL's 65,535 bind parameters (6 columns each). */
export const PACKAGE_CHUNK = 5_000;

const OS_FAMILIES: readonly OsFamily[] = [
  'debian',
  'ubuntu',
  'alpine',
  'rhel',
  'rocky',
  'almalinux',
  'fedora',
  'suse',
  'unknown',
];

export interface StoredSnapshot extends InventorySnapshot {
  id: string;
  hostId: string;
  hostName: string;
}

/** Inventory snapshots of hosts: every collection is kept, the latest is what matching uses. */
export class InventoryRepository {
  constructor(private readonly prisma: DbClient) {}

  /**
   * Stores a snapshot with all its packages in one transaction and updates the host's OS facts.
   * Returns the snapshot id.
   */
  async save(hostName: string, snapshot: InventorySnapshot): Promise<string> {
    return this.prisma.$transaction(
      async (tx) => {
        const host = await tx.host.findUnique({ where: { name: hostName }, select: { id: true } });
        if (!host)
          throw new NotFoundError(`no host named ${JSON.stringify(hostName)}`, {
            details: { host: hostName },
          });
        const created = await tx.inventorySnapshot.create({
          data: {
            hostId: host.id,
            collectedAt: snapshot.collectedAt,
            osId: snapshot.os.id,
            osFamily: snapshot.os.family,
            osVersionId: snapshot.os.versionId,
            osCodename: snapshot.os.codename ?? null,
            osPrettyName: snapshot.os.prettyName ?? null,
            kernel: snapshot.kernel,
            packageManager: snapshot.packageManager,
            rebootRequired: snapshot.rebootRequired,
            rebootPackages: snapshot.rebootPackages,
            packageCount: snapshot.packages.length,
          },
          select: { id: true },
        });
        for (let i = 0; i < snapshot.packages.length; i += PACKAGE_CHUNK) {
          await tx.installedPackage.createMany({
            data: snapshot.packages.slice(i, i + PACKAGE_CHUNK).map((p) => ({
              snapshotId: created.id,
              name: p.name,
              sourceName: p.sourceName,
              version: p.version,
              sourceVersion: p.sourceVersion,
              arch: p.arch,
            })),
            // the same package reported twice in one listing is one package
            skipDuplicates: true,
          });
        }
        await tx.host.update({
          where: { id: host.id },
          data: {
            osFamily: snapshot.os.family,
            osRelease: snapshot.os.versionId,
            kernel: snapshot.kernel,
            rebootRequired: snapshot.rebootRequired,
            lastInventoryAt: snapshot.collectedAt,
          },
        });
        return created.id;
      },
      { timeout: 120_000, maxWait: 30_000 },
    );
  }

  /** The most recent snapshot of a host (by collection time) with its packages, or null. */
  async latest(hostName: string): Promise<StoredSnapshot | null> {
    const row = await this.prisma.inventorySnapshot.findFirst({
      where: { host: { name: hostName } },
      orderBy: [{ collectedAt: 'desc' }, { createdAt: 'desc' }],
      include: {
        host: { select: { name: true } },
        packages: { orderBy: [{ name: 'asc' }, { arch: 'asc' }, { version: 'asc' }] },
      },
    });
    if (!row) return null;
    const family = (OS_FAMILIES as readonly string[]).includes(row.osFamily)
      ? (row.osFamily as OsFamily)
      : 'unknown';
    const packages: InstalledPackage[] = row.packages.map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
    }));
    return {
      id: row.id,
      hostId: row.hostId,
      hostName: row.host.name,
      os: {
        id: row.osId,
        family,
        versionId: row.osVersionId,
        ...(row.osCodename !== null ? { codename: row.osCodename } : {}),
        ...(row.osPrettyName !== null ? { prettyName: row.osPrettyName } : {}),
      },
      kernel: row.kernel,
      packageManager: row.packageManager,
      packages,
      rebootRequired: row.rebootRequired,
      rebootPackages: row.rebootPackages,
      collectedAt: row.collectedAt,
    };
  }

  /** Number of snapshots kept for a host. */
  async count(hostName: string): Promise<number> {
    return this.prisma.inventorySnapshot.count({ where: { host: { name: hostName } } });
  }
}
