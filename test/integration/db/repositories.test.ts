import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../../src/core/errors.js';
import type { InstalledPackage, InventorySnapshot } from '../../../src/core/model.js';
import {
  AuditRepository,
  HostRepository,
  InventoryRepository,
  PACKAGE_CHUNK,
} from '../../../src/db/repositories/index.js';
import { forEachBackend } from '../../support/db.js';

const STATUS_FILE = new URL('../../fixtures/db/dpkg-packages.tsv', import.meta.url);

/** Real packages (name, source, version, source version, arch) from a Debian 12 host. */
async function realPackages(): Promise<InstalledPackage[]> {
  const text = await readFile(STATUS_FILE, 'utf8');
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [name, sourceName, version, sourceVersion, arch] = l.split('\t') as [
        string,
        string,
        string,
        string,
        string,
      ];
      return { name, sourceName, version, sourceVersion, arch };
    });
}

function snapshot(
  packages: InstalledPackage[],
  collectedAt: Date,
  kernel = '6.1.0-18-amd64',
): InventorySnapshot {
  return {
    os: {
      id: 'debian',
      family: 'debian',
      versionId: '12',
      codename: 'bookworm',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
    },
    kernel,
    packageManager: 'dpkg',
    packages,
    rebootRequired: true,
    rebootPackages: ['linux-image-6.1.0-18-amd64'],
    collectedAt,
  };
}

const byKey = (p: InstalledPackage): string => `${p.name}\u0000${p.arch}\u0000${p.version}`;
const sorted = (ps: InstalledPackage[]): InstalledPackage[] =>
  [...ps].sort((a, b) => (byKey(a) < byKey(b) ? -1 : 1));

forEachBackend('repositories', (db) => {
  it('hosts: upsert by name creates then replaces the definition, with the owning team', async () => {
    const hosts = new HostRepository(db().prisma);
    const created = await hosts.upsert({
      name: 'web-01',
      address: '10.0.0.1',
      labels: { ring: 'canary', role: 'web' },
      groups: ['web'],
      environment: 'production',
      criticality: 1,
      internetFacing: true,
      compensatingControls: ['waf'],
      ring: 'canary',
      team: 'platform',
      hostKeys: [{ sha256: 'a'.repeat(64), type: 'ssh-ed25519' }],
      sshUser: 'patchbot',
    });
    expect(created).toMatchObject({
      name: 'web-01',
      address: '10.0.0.1',
      port: 22,
      labels: { ring: 'canary', role: 'web' },
      groups: ['web'],
      criticality: 1,
      internetFacing: true,
      compensatingControls: ['waf'],
      team: 'platform',
      source: 'cli',
    });
    const updated = await hosts.upsert({
      name: 'web-01',
      address: '10.0.0.2',
      port: 2222,
      criticality: 2,
      team: 'web',
    });
    expect(updated.id).toBe(created.id);
    expect(updated).toMatchObject({
      address: '10.0.0.2',
      port: 2222,
      criticality: 2,
      team: 'web',
      labels: {},
      ring: null,
    });
    expect(await hosts.get('web-01')).toEqual(updated);
    expect(await hosts.get('nope')).toBeNull();
    await expect(hosts.require('nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('hosts: invalid definitions are refused with the field named', async () => {
    const hosts = new HostRepository(db().prisma);
    await expect(hosts.upsert({ name: 'db-01', address: 'x', criticality: 5 as 1 })).rejects.toThrow(
      /host "db-01": criticality/,
    );
    await expect(hosts.upsert({ name: 'bad name;rm', address: 'x' })).rejects.toBeInstanceOf(ValidationError);
    await expect(
      hosts.upsert({ name: 'db-01', address: 'x', hostKeys: [{ sha256: 'SHA256:abc' }] }),
    ).rejects.toThrow(/hostKeys/);
  });

  it('hosts: list filters by team, environment, ring, group and labels; remove', async () => {
    const hosts = new HostRepository(db().prisma);
    await hosts.upsert({
      name: 'db-01',
      address: '10.0.1.1',
      team: 'data',
      environment: 'staging',
      groups: ['db'],
      labels: { ring: 'pilot' },
    });
    await hosts.upsert({
      name: 'db-02',
      address: '10.0.1.2',
      team: 'data',
      environment: 'production',
      groups: ['db'],
      labels: { ring: 'broad' },
      ring: 'broad',
    });
    const names = async (f: Parameters<HostRepository['list']>[0]): Promise<string[]> =>
      (await hosts.list(f)).map((h) => h.name);
    expect(await names({ team: 'data' })).toEqual(['db-01', 'db-02']);
    expect(await names({ environment: 'staging' })).toEqual(['db-01']);
    expect(await names({ ring: 'broad' })).toEqual(['db-02']);
    expect(await names({ group: 'db', labels: { ring: 'pilot' } })).toEqual(['db-01']);
    expect(await names({})).toEqual(['db-01', 'db-02', 'web-01']);
    expect(await hosts.remove('db-01')).toBe(true);
    expect(await hosts.remove('db-01')).toBe(false);
    expect(await names({ team: 'data' })).toEqual(['db-02']);
  });

  it('inventory: a snapshot round-trips with every package; the latest one wins; host facts follow', async () => {
    const hosts = new HostRepository(db().prisma);
    const inventory = new InventoryRepository(db().prisma);
    await hosts.upsert({ name: 'inv-01', address: '10.0.2.1' });
    const packages = await realPackages();
    expect(packages.length).toBeGreaterThan(100);

    const older = snapshot(packages.slice(0, 10), new Date('2025-08-01T10:00:00Z'), '6.1.0-17-amd64');
    const newer = snapshot(packages, new Date('2025-08-02T10:00:00Z'));
    await inventory.save('inv-01', newer);
    await inventory.save('inv-01', older); // stored later, collected earlier
    expect(await inventory.count('inv-01')).toBe(2);

    const latest = await inventory.latest('inv-01');
    expect(latest).not.toBeNull();
    expect(latest!.collectedAt.toISOString()).toBe(newer.collectedAt.toISOString());
    expect(latest!.hostName).toBe('inv-01');
    expect(latest!.os).toEqual(newer.os);
    expect(latest!.kernel).toBe(newer.kernel);
    expect(latest!.rebootRequired).toBe(true);
    expect(latest!.rebootPackages).toEqual(newer.rebootPackages);
    expect(sorted(latest!.packages)).toEqual(sorted(packages));

    const host = await hosts.require('inv-01');
    // the host keeps the facts of the snapshot saved last
    expect(host).toMatchObject({
      osFamily: 'debian',
      osRelease: '12',
      kernel: '6.1.0-17-amd64',
      rebootRequired: true,
    });
    expect(await inventory.latest('nobody')).toBeNull();
    await expect(inventory.save('nobody', newer)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('inventory: more packages than one insert chunk are stored in one transaction', async () => {
    const hosts = new HostRepository(db().prisma);
    const inventory = new InventoryRepository(db().prisma);
    await hosts.upsert({ name: 'big-01', address: '10.0.2.2' });
    const base = await realPackages();
    const many: InstalledPackage[] = [];
    for (let i = 0; many.length < PACKAGE_CHUNK + 123; i++) {
      const p = base[i % base.length];
      many.push({ ...p, name: `${p.name}-${Math.floor(i / base.length)}` });
    }
    await inventory.save('big-01', snapshot(many, new Date('2025-08-03T00:00:00Z')));
    const latest = await inventory.latest('big-01');
    expect(latest!.packages).toHaveLength(many.length);

    // a failure part-way stores nothing: a package violating a constraint (NUL byte) fails the whole save
    const broken = [...many.slice(0, PACKAGE_CHUNK + 5), { ...base[0], name: 'bad\u0000name' }];
    await expect(
      inventory.save('big-01', snapshot(broken, new Date('2025-09-01T00:00:00Z'))),
    ).rejects.toThrow();
    expect(await inventory.count('big-01')).toBe(1);
    expect((await inventory.latest('big-01'))!.collectedAt.toISOString()).toBe('2025-08-03T00:00:00.000Z');
  });

  it('audit: entries append and list by subject and time, in order', async () => {
    const audit = new AuditRepository(db().prisma);
    const a = await audit.append({
      actor: 'U123',
      actorDisplay: 'Ada',
      surface: 'slack',
      action: 'decision.approve',
      subjectType: 'change',
      subjectId: '42',
      details: { reason: 'looks fine', hosts: 3 },
      at: new Date('2025-08-01T00:00:00Z'),
    });
    const b = await audit.append({
      actor: 'cli:root',
      surface: 'cli',
      action: 'host.add',
      subjectType: 'host',
      subjectId: 'web-01',
    });
    const c = await audit.append({
      actor: 'U456',
      surface: 'teams',
      action: 'decision.reject',
      subjectType: 'change',
      subjectId: '42',
      at: new Date('2025-08-02T00:00:00Z'),
    });
    expect(BigInt(a.id) < BigInt(b.id)).toBe(true);
    expect(a).toMatchObject({
      actor: 'U123',
      actorDisplay: 'Ada',
      surface: 'slack',
      details: { reason: 'looks fine', hosts: 3 },
    });
    expect(b.details).toEqual({});
    expect(Math.abs(b.at.getTime() - Date.now())).toBeLessThan(60_000);

    const forChange = await audit.list({ subjectType: 'change', subjectId: '42' });
    expect(forChange.map((e) => e.id)).toEqual([a.id, c.id]);
    expect(forChange[0]).toEqual(a);
    const window = await audit.list({
      since: new Date('2025-08-01T12:00:00Z'),
      until: new Date('2025-08-03T00:00:00Z'),
    });
    expect(window.map((e) => e.id)).toEqual([c.id]);
    expect((await audit.list({ actor: 'cli:root' })).map((e) => e.id)).toEqual([b.id]);
    await expect(
      audit.append({ actor: '', surface: 'cli', action: 'x', subjectType: 'y', subjectId: 'z' }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('audit: the database rejects UPDATE and DELETE on the audit log', async () => {
    const audit = new AuditRepository(db().prisma);
    const entry = await audit.append({
      actor: 'U1',
      surface: 'cli',
      action: 'x',
      subjectType: 't',
      subjectId: 'immutable',
    });
    const prisma = db().prisma;
    await expect(
      prisma.$executeRawUnsafe(`UPDATE "AuditLog" SET actor = 'mallory' WHERE id = ${entry.id}`),
    ).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe(`DELETE FROM "AuditLog" WHERE id = ${entry.id}`)).rejects.toThrow(
      /append-only/,
    );
    await expect(prisma.auditLog.deleteMany({})).rejects.toThrow(/append-only/);
    await expect(prisma.$executeRawUnsafe('TRUNCATE "AuditLog"')).rejects.toThrow(/append-only/);
    expect(await audit.list({ subjectId: 'immutable' })).toEqual([entry]);
  });

  it('the schema refuses a criticality outside 1-4 even from raw SQL', async () => {
    await expect(
      db().prisma.$executeRawUnsafe(
        `INSERT INTO "Host" (name, address, criticality, "updatedAt") VALUES ('raw-01', 'x', 9, now())`,
      ),
    ).rejects.toThrow(/Host_criticality_check/);
  });
});
