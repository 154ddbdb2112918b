import { NotFoundError } from '../../core/errors.js';
import type {
  BaselineSourceStatus,
  DmiInfo,
  FirmwareDevice,
  HostBaseline,
  HsiAttribute,
  InstalledPackage,
  InventorySnapshot,
  OsFamily,
  ThirdPartyEcosystem,
  ThirdPartyPackage,
} from '../../core/model.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';

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
            ...baselineColumns(snapshot.baseline),
          },
          select: { id: true },
        });
        const thirdParty = snapshot.baseline?.thirdParty ?? [];
        for (let i = 0; i < thirdParty.length; i += PACKAGE_CHUNK) {
          await tx.thirdPartyPackage.createMany({
            data: thirdParty.slice(i, i + PACKAGE_CHUNK).map((p) => ({
              snapshotId: created.id,
              ecosystem: p.ecosystem,
              name: p.name,
              version: p.version,
              owner: p.owner,
              ownerKind: p.ownerKind,
              dev: p.dev === true,
            })),
            skipDuplicates: true,
          });
        }
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
            lastCollectAttemptAt: snapshot.collectedAt,
            lastCollectError: null,
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
    const packages: InstalledPackage[] = row.packages.map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
    }));
    const thirdParty = await this.thirdPartyOf([row.id]);
    return toSnapshot(row, packages, thirdParty.get(row.id) ?? []);
  }

  /**
   * The most recent snapshot of each of the hosts (by id), as `latest` returns it, in two queries.
   * Equal packages are one shared object across the snapshots of this call and of earlier calls
   * given the same `packages` cache (treat them as immutable): a fleet of similar hosts costs one
   * object per distinct package, and matching evaluates each once. Hosts with no snapshot are absent.
   */
  async latestForHosts(
    hostIds: readonly string[],
    packages: PackageCache = new Map(),
  ): Promise<Map<string, StoredSnapshot>> {
    const out = new Map<string, StoredSnapshot>();
    if (hostIds.length === 0) return out;
    const latest = await this.prisma.$queryRaw<{ id: string }[]>`
      SELECT DISTINCT ON (s."hostId") s.id::text AS id
      FROM "InventorySnapshot" s
      WHERE s."hostId" = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(hostIds)}::jsonb)::uuid))
      ORDER BY s."hostId", s."collectedAt" DESC, s."createdAt" DESC`;
    if (latest.length === 0) return out;
    const ids = latest.map((r) => r.id);
    const [rows, lists] = await Promise.all([
      this.prisma.inventorySnapshot.findMany({
        where: { id: { in: ids } },
        include: { host: { select: { name: true } } },
      }),
      // one text per snapshot: a line per package, its fields separated by U+001F
      this.prisma.$queryRaw<{ snapshotId: string; count: number; packages: string }[]>`
        SELECT p."snapshotId"::text AS "snapshotId", count(*)::int AS count,
          string_agg(concat_ws(chr(31), p.name, p.version, p.arch, p."sourceName", p."sourceVersion"), chr(10)
            ORDER BY p.name, p.arch, p.version) AS packages
        FROM "InstalledPackage" p
        WHERE p."snapshotId" = ANY (ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid))
        GROUP BY p."snapshotId"`,
    ]);
    const packagesOf = new Map<string, InstalledPackage[]>();
    for (const l of lists) {
      const list = splitPackages(l.packages, l.count, packages);
      // a field holding a separator (stored names and versions never do: src/core/packages) is read
      // row by row instead
      packagesOf.set(l.snapshotId, list ?? (await this.packagesOf(l.snapshotId)));
    }
    const thirdParty = await this.thirdPartyOf(ids);
    for (const row of rows)
      out.set(row.hostId, toSnapshot(row, packagesOf.get(row.id) ?? [], thirdParty.get(row.id) ?? []));
    return out;
  }

  /** The language packages of the snapshots, by snapshot id. */
  private async thirdPartyOf(snapshotIds: readonly string[]): Promise<Map<string, ThirdPartyPackage[]>> {
    const out = new Map<string, ThirdPartyPackage[]>();
    if (snapshotIds.length === 0) return out;
    const rows = await this.prisma.thirdPartyPackage.findMany({
      where: { snapshotId: { in: [...snapshotIds] } },
      orderBy: { id: 'asc' },
    });
    for (const r of rows) {
      let list = out.get(r.snapshotId);
      if (!list) out.set(r.snapshotId, (list = []));
      const pkg: ThirdPartyPackage = {
        ecosystem: r.ecosystem as ThirdPartyEcosystem,
        name: r.name,
        version: r.version,
        owner: r.owner,
        ownerKind: r.ownerKind as ThirdPartyPackage['ownerKind'],
      };
      if (r.dev) pkg.dev = true;
      list.push(pkg);
    }
    return out;
  }

  private async packagesOf(snapshotId: string): Promise<InstalledPackage[]> {
    const rows = await this.prisma.installedPackage.findMany({
      where: { snapshotId },
      orderBy: [{ name: 'asc' }, { arch: 'asc' }, { version: 'asc' }],
    });
    return rows.map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.arch,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion,
    }));
  }

  /** Number of snapshots kept for a host. */
  async count(hostName: string): Promise<number> {
    return this.prisma.inventorySnapshot.count({ where: { host: { name: hostName } } });
  }
}

/** Shared package objects by name, version, arch, source name and source version. */
export type PackageCache = Map<string, InstalledPackage>;

/**
 * The packages of `latestForHosts`' text (lines of five U+001F-separated fields), interned in
 * `cache`; undefined when the text does not hold exactly `count` such lines.
 */
function splitPackages(text: string, count: number, cache: PackageCache): InstalledPackage[] | undefined {
  const lines = text.split('\n');
  if (lines.length !== count) return undefined;
  const list: InstalledPackage[] = [];
  for (const line of lines) {
    let p = cache.get(line);
    if (!p) {
      const fields = line.split('\u001f');
      if (fields.length !== 5) return undefined;
      const [name, version, arch, sourceName, sourceVersion] = fields;
      cache.set(line, (p = { name, version, arch, sourceName, sourceVersion }));
    }
    list.push(p);
  }
  return list;
}

type SnapshotRow = Prisma.InventorySnapshotGetPayload<{ include: { host: { select: { name: true } } } }>;

/** The snapshot columns of a baseline (none for an input without one). */
function baselineColumns(
  baseline: HostBaseline | undefined,
): Prisma.InventorySnapshotUncheckedCreateInput extends infer T ? Partial<T> : never {
  if (baseline === undefined) return {};
  return {
    ...(baseline.dmi === undefined ? {} : { dmi: baseline.dmi as Prisma.InputJsonValue }),
    firmware: baseline.firmware as unknown as Prisma.InputJsonValue,
    ...(baseline.hsi === undefined ? {} : { hsi: baseline.hsi as unknown as Prisma.InputJsonValue }),
    sources: baseline.sources as unknown as Prisma.InputJsonValue,
    thirdPartyCount: baseline.thirdParty.length,
  };
}

/** The baseline stored with a snapshot; undefined for a snapshot stored without one. */
function baselineOf(row: SnapshotRow, thirdParty: ThirdPartyPackage[]): HostBaseline | undefined {
  const sources = Array.isArray(row.sources) ? (row.sources as unknown as BaselineSourceStatus[]) : [];
  if (sources.length === 0) return undefined;
  const baseline: HostBaseline = {
    firmware: Array.isArray(row.firmware) ? (row.firmware as unknown as FirmwareDevice[]) : [],
    thirdParty,
    sources,
  };
  if (row.dmi !== null && typeof row.dmi === 'object') baseline.dmi = row.dmi as DmiInfo;
  if (Array.isArray(row.hsi)) baseline.hsi = row.hsi as unknown as HsiAttribute[];
  return baseline;
}

function toSnapshot(
  row: SnapshotRow,
  packages: InstalledPackage[],
  thirdParty: ThirdPartyPackage[] = [],
): StoredSnapshot {
  const baseline = baselineOf(row, thirdParty);
  const family = (OS_FAMILIES as readonly string[]).includes(row.osFamily)
    ? (row.osFamily as OsFamily)
    : 'unknown';
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
    ...(baseline === undefined ? {} : { baseline }),
  };
}
