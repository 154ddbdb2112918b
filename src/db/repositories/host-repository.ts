import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.js';
import type { DbClient } from '../client.js';
import type { Prisma } from '../generated/client.js';
import { Criticality, HostFilter, HostInput, PinnedHostKey, type HostRecord } from '../types.js';

const Labels = z.record(z.string(), z.string());
const HostKeys = z.array(PinnedHostKey);

type HostRow = Prisma.HostGetPayload<{ include: { team: { select: { name: true } } } }>;

function toRecord(row: HostRow): HostRecord {
  const labels = Labels.safeParse(row.labels);
  const criticality = Criticality.safeParse(row.criticality);
  const hostKeys = HostKeys.safeParse(row.hostKeys);
  return {
    id: row.id,
    name: row.name,
    address: row.address,
    port: row.port,
    sshUser: row.sshUser,
    hostKeys: hostKeys.success ? hostKeys.data : [],
    identityFile: row.identityFile,
    osFamily: row.osFamily,
    osRelease: row.osRelease,
    kernel: row.kernel,
    labels: labels.success ? labels.data : {},
    groups: row.groups,
    environment: row.environment,
    criticality: criticality.success ? criticality.data : 3,
    internetFacing: row.internetFacing,
    compensatingControls: row.compensatingControls,
    ring: row.ring,
    team: row.team?.name ?? null,
    source: row.source,
    lastInventoryAt: row.lastInventoryAt,
    rebootRequired: row.rebootRequired,
    retiredAt: row.retiredAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function parseInput(input: HostInput): z.output<typeof HostInput> {
  const parsed = HostInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join('.') : 'host';
    throw new ValidationError(`host ${JSON.stringify(input.name)}: ${where}: ${issue.message}`, {
      details: { host: input.name, path: issue.path.map(String) },
    });
  }
  return parsed.data;
}

const includeTeam = { team: { select: { name: true } } } as const;

/**
 * Hosts: defined by the policy file or `patchbot hosts add`, keyed by name. A retired host keeps
 * its row (and its history); list() leaves it out unless asked, get() returns it with retiredAt.
 */
export class HostRepository {
  constructor(private readonly prisma: DbClient) {}

  /**
   * Records that collecting the host's inventory failed at `at` (coverage shows it as unreachable
   * until a collection succeeds). An unknown host is ignored: it was removed meanwhile.
   */
  async recordCollectFailure(name: string, error: string, at: Date): Promise<void> {
    await this.prisma.host.updateMany({
      where: { name },
      data: {
        lastCollectAttemptAt: at,
        lastCollectError: error.replaceAll('\u0000', '\uFFFD').slice(0, 2_000),
      },
    });
  }

  /**
   * Creates the host or replaces its definition (by name). Inventory facts are kept; a retired
   * host that is defined again is managed again (retiredAt cleared).
   */
  async upsert(input: HostInput): Promise<HostRecord> {
    const h = parseInput(input);
    const team =
      h.team === null || h.team === undefined
        ? { disconnect: true }
        : { connectOrCreate: { where: { name: h.team }, create: { name: h.team, source: h.source } } };
    const fields = {
      address: h.address,
      port: h.port,
      sshUser: h.sshUser ?? null,
      hostKeys: h.hostKeys,
      identityFile: h.identityFile ?? null,
      labels: h.labels,
      groups: h.groups,
      environment: h.environment,
      criticality: h.criticality,
      internetFacing: h.internetFacing,
      compensatingControls: h.compensatingControls,
      ring: h.ring ?? null,
      source: h.source,
      ...(h.osFamily !== undefined ? { osFamily: h.osFamily } : {}),
      ...(h.osRelease !== undefined ? { osRelease: h.osRelease } : {}),
      ...(h.kernel !== undefined ? { kernel: h.kernel } : {}),
      retiredAt: null,
    };
    const row = await this.prisma.host.upsert({
      where: { name: h.name },
      create: {
        name: h.name,
        ...fields,
        ...(h.team ? { team: { connectOrCreate: team.connectOrCreate! } } : {}),
      },
      update: { ...fields, team },
      include: includeTeam,
    });
    return toRecord(row);
  }

  async get(name: string): Promise<HostRecord | null> {
    const row = await this.prisma.host.findUnique({ where: { name }, include: includeTeam });
    return row ? toRecord(row) : null;
  }

  /** Like get, but a missing host is an error naming it. */
  async require(name: string): Promise<HostRecord> {
    const host = await this.get(name);
    if (!host) throw new NotFoundError(`no host named ${JSON.stringify(name)}`, { details: { host: name } });
    return host;
  }

  async list(filter: HostFilter = {}): Promise<HostRecord[]> {
    const f = HostFilter.parse(filter);
    const where: Prisma.HostWhereInput = {
      ...(f.names !== undefined ? { name: { in: f.names } } : {}),
      ...(f.team !== undefined ? { team: { name: f.team } } : {}),
      ...(f.environment !== undefined ? { environment: f.environment } : {}),
      ...(f.ring !== undefined ? { ring: f.ring } : {}),
      ...(f.group !== undefined ? { groups: { has: f.group } } : {}),
      ...(f.source !== undefined ? { source: f.source } : {}),
      ...(f.includeRetired === true ? {} : { retiredAt: null }),
    };
    const rows = await this.prisma.host.findMany({ where, include: includeTeam, orderBy: { name: 'asc' } });
    const records = rows.map(toRecord);
    const labels = f.labels;
    if (!labels) return records;
    return records.filter((h) => Object.entries(labels).every(([k, v]) => h.labels[k] === v));
  }

  /**
   * Retires a managed host: it is no longer collected, counted, announced or deployed to; its
   * snapshots, findings and deployment history stay. Returns the host, or null when there is no
   * managed host of that name (none, or already retired).
   */
  async retire(name: string): Promise<HostRecord | null> {
    // the database's clock, like every other time patchbot records
    const count = await this.prisma.$executeRaw`
      UPDATE "Host" SET "retiredAt" = now(), "updatedAt" = now()
      WHERE name = ${name} AND "retiredAt" IS NULL`;
    return count > 0 ? this.get(name) : null;
  }

  /** Replaces the pinned keys of a host (the rest of its definition is unchanged). */
  async setHostKeys(name: string, keys: readonly PinnedHostKey[]): Promise<HostRecord> {
    const parsed = HostKeys.max(32).parse(keys);
    await this.prisma.host.update({ where: { name }, data: { hostKeys: parsed } });
    return this.require(name);
  }

  /** Deletes the host and what derives from it (snapshots, findings). Returns whether it existed. */
  async remove(name: string): Promise<boolean> {
    const { count } = await this.prisma.host.deleteMany({ where: { name } });
    return count > 0;
  }
}
