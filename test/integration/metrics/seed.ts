/**
 * A small history with every metric's input, written row by row, so each expected number in the
 * tests can be worked out by hand from this file. "Now" is Monday 2026-03-30 12:00 UTC unless given;
 * d(x) is x days before now. Reporting: threshold high, accepted risks expiring within 14 days.
 *
 * hosts (team, environment, groups):
 *   pay-1  payments production [dmz, db]  reboot required, inventoried
 *   pay-2  payments production [db]       inventoried
 *   pay-3  payments staging    []         never inventoried
 *   web-1  web      production [dmz]      inventoried
 *   orph-1 (none)   development []        inventoried
 * Inventoried hosts run Debian 12, collected d(1); the Debian tracker was synced 6 hours ago, so
 * they are assessed: pay-1 and web-1 at risk (open high+ findings), pay-2 and orph-1 covered, pay-3
 * never scanned.
 *
 * findings (host, status, band, first seen, resolved, SLA due):
 *   F1  pay-1  open     critical KEV  d(40)          due d(5)    -> overdue, KEV overdue
 *   F2  pay-1  open     medium        d(3)           due now+3d  -> due this week
 *   F3  pay-1  fixed    high          d(25)  d(10)   due d(8)    -> met, 15 days to fix
 *   F4  pay-2  open     low           d(100)         due now+80d
 *   F5  pay-2  fixed    critical      d(12)  d(2)    due d(5)    -> missed (late), 10 days to fix
 *   F6  pay-2  accepted high          d(50)          due d(20)   -> not open, not judged for SLA
 *   F7  pay-3  open     high          d(10)          due d(1)    -> overdue
 *   F8  pay-3  fixed    medium        d(8)   d(4)    due now+50d -> not due in the period, 4 days to fix
 *   F9  web-1  open     high KEV      d(31)          due now+10d
 *   F10 web-1  fixed    high          d(60)  d(40)   due d(35)   -> outside the 30-day period
 *   F11 orph-1 open     none          d(7.5)         no due date
 *
 * host runs: pay-1 succeeded d(3), pay-2 failed d(3), pay-3 succeeded d(40) (outside the period),
 *   web-1 succeeded d(1), pay-3 running (not finished).
 * risk acceptances: RA1 on F6 expires now+7d (expiring soon); RA2 on change request CR-web (F9)
 *   expires now+60d; RA3 on F2 revoked; RA4 on F4 expired d(1).
 */
import type { Database } from '../../../src/db/index.js';

export const NOW = new Date('2026-03-30T12:00:00Z');
const DAY = 86_400_000;

export interface Seeded {
  hostIds: Record<string, string>;
  findingIds: Record<string, string>;
}

/** Seeds the history relative to `now` (the tests' fixed NOW, or the real clock for the CLI). */
export async function seedHistory(db: Database, now: Date = NOW): Promise<Seeded> {
  const d = (days: number): Date => new Date(now.getTime() - days * DAY);
  const ahead = (days: number): Date => new Date(now.getTime() + days * DAY);
  const p = db.prisma;
  const payments = await p.team.create({ data: { name: 'payments' } });
  const web = await p.team.create({ data: { name: 'web' } });
  const hosts: [string, string | null, string, string[], boolean, boolean][] = [
    ['pay-1', payments.id, 'production', ['dmz', 'db'], true, true],
    ['pay-2', payments.id, 'production', ['db'], false, true],
    ['pay-3', payments.id, 'staging', [], false, false],
    ['web-1', web.id, 'production', ['dmz'], false, true],
    ['orph-1', null, 'development', [], false, true],
  ];
  const hostIds: Record<string, string> = {};
  for (const [name, teamId, environment, groups, reboot, inventoried] of hosts) {
    const h = await p.host.create({
      data: {
        name,
        address: `${name}.example`,
        teamId,
        environment,
        groups,
        rebootRequired: reboot,
        lastInventoryAt: inventoried ? d(1) : null,
      },
    });
    hostIds[name] = h.id;
    if (inventoried)
      await p.inventorySnapshot.create({
        data: {
          hostId: h.id,
          collectedAt: d(1),
          osId: 'debian',
          osFamily: 'debian',
          osVersionId: '12',
          osCodename: 'bookworm',
          kernel: '6.1.0-13-amd64',
          packageManager: 'dpkg',
          rebootRequired: reboot,
        },
      });
  }
  await p.feedFreshness.create({
    data: {
      feed: 'debian-tracker',
      asOf: d(0.25),
      basis: 'fetched',
      checkedAt: d(0.25),
      location: 'https://security-tracker.debian.org/tracker/data/json',
      importedAt: d(0.25),
      ecosystems: ['Debian:12'],
    },
  });
  for (const id of ['DSA-1001-1', 'DSA-1002-1', 'DSA-1003-1', 'DSA-1004-1', 'DSA-1005-1']) {
    await p.advisory.create({
      data: {
        id,
        source: 'debian_tracker',
        modified: d(200),
        contentHash: id,
        cves: [`CVE-2026-${id.slice(4, 8)}`],
      },
    });
  }
  const advisoryOf: Record<string, [string, string]> = {
    libc6: ['DSA-1001-1', 'glibc'],
    curl: ['DSA-1002-1', 'curl'],
    openssl: ['DSA-1003-1', 'openssl'],
    zlib: ['DSA-1004-1', 'zlib'],
    bash: ['DSA-1005-1', 'bash'],
  };
  type Row = {
    key: string;
    host: string;
    pkg: keyof typeof advisoryOf;
    status: 'open' | 'fixed' | 'accepted';
    severity: 'critical' | 'high' | 'medium' | 'low' | 'none';
    kev?: boolean;
    firstSeen: Date;
    resolved?: Date;
    due: Date | null;
    risk: number;
  };
  const rows: Row[] = [
    {
      key: 'F1',
      host: 'pay-1',
      pkg: 'libc6',
      status: 'open',
      severity: 'critical',
      kev: true,
      firstSeen: d(40),
      due: d(5),
      risk: 90,
    },
    {
      key: 'F2',
      host: 'pay-1',
      pkg: 'curl',
      status: 'open',
      severity: 'medium',
      firstSeen: d(3),
      due: ahead(3),
      risk: 30,
    },
    {
      key: 'F3',
      host: 'pay-1',
      pkg: 'openssl',
      status: 'fixed',
      severity: 'high',
      firstSeen: d(25),
      resolved: d(10),
      due: d(8),
      risk: 60,
    },
    {
      key: 'F4',
      host: 'pay-2',
      pkg: 'zlib',
      status: 'open',
      severity: 'low',
      firstSeen: d(100),
      due: ahead(80),
      risk: 10,
    },
    {
      key: 'F5',
      host: 'pay-2',
      pkg: 'libc6',
      status: 'fixed',
      severity: 'critical',
      firstSeen: d(12),
      resolved: d(2),
      due: d(5),
      risk: 85,
    },
    {
      key: 'F6',
      host: 'pay-2',
      pkg: 'bash',
      status: 'accepted',
      severity: 'high',
      firstSeen: d(50),
      due: d(20),
      risk: 55,
    },
    {
      key: 'F7',
      host: 'pay-3',
      pkg: 'openssl',
      status: 'open',
      severity: 'high',
      firstSeen: d(10),
      due: d(1),
      risk: 60,
    },
    {
      key: 'F8',
      host: 'pay-3',
      pkg: 'curl',
      status: 'fixed',
      severity: 'medium',
      firstSeen: d(8),
      resolved: d(4),
      due: ahead(50),
      risk: 30,
    },
    {
      key: 'F9',
      host: 'web-1',
      pkg: 'libc6',
      status: 'open',
      severity: 'high',
      kev: true,
      firstSeen: d(31),
      due: ahead(10),
      risk: 80,
    },
    {
      key: 'F10',
      host: 'web-1',
      pkg: 'openssl',
      status: 'fixed',
      severity: 'high',
      firstSeen: d(60),
      resolved: d(40),
      due: d(35),
      risk: 60,
    },
    {
      key: 'F11',
      host: 'orph-1',
      pkg: 'zlib',
      status: 'open',
      severity: 'none',
      firstSeen: d(7.5),
      due: null,
      risk: 5,
    },
  ];
  const findingIds: Record<string, string> = {};
  for (const r of rows) {
    const [advisoryId, source] = advisoryOf[r.pkg] ?? ['', ''];
    const f = await p.finding.create({
      data: {
        hostId: hostIds[r.host] ?? '',
        packageName: r.pkg,
        sourcePackage: source,
        advisoryId,
        ecosystem: 'Debian:12',
        installedVersion: '1.0-1',
        fixedVersion: '1.0-2',
        cves: [`CVE-2026-${advisoryId.slice(4, 8)}`],
        firstSeenAt: r.firstSeen,
        lastSeenAt: r.resolved ?? d(1),
        resolvedAt: r.resolved ?? null,
        status: r.status,
        severity: r.severity,
        kev: r.kev ?? false,
        riskScore: r.risk,
        slaDueAt: r.due,
        statusUntil: r.status === 'accepted' ? ahead(7) : null,
      },
    });
    findingIds[r.key] = f.id;
  }

  // deployments
  const change = (teamId: string, pkg: string) =>
    p.changeRequest.create({
      data: {
        ecosystem: 'Debian:12',
        packageName: pkg,
        fixedVersion: '1.0-2',
        teamId,
        requestedBy: 'test',
        policySnapshot: {},
        // its hosts join before approval; it is marked completed once they are in
        status: 'pending',
      },
    });
  const crPay = await change(payments.id, 'libc6');
  const crWeb = await change(web.id, 'libc6');
  await p.changeRequestFinding.create({
    data: { changeRequestId: crWeb.id, findingId: findingIds.F9 ?? '' },
  });
  await p.changeRequest.updateMany({
    where: { id: { in: [crPay.id, crWeb.id] } },
    data: { status: 'completed' },
  });
  // one active deployment per change: the first of the payments change finished before the second
  const ring = async (changeId: string, state: 'completed' | 'running') => {
    const dep = await p.deployment.create({
      data: { changeRequestId: changeId, plan: {}, createdBy: 'test', state },
    });
    return p.deploymentRing.create({ data: { deploymentId: dep.id, index: 0, name: 'broad' } });
  };
  const r1 = await ring(crPay.id, 'completed');
  const r2 = await ring(crPay.id, 'running');
  const r3 = await ring(crWeb.id, 'completed');
  const run = (
    ringId: string,
    host: string,
    state: 'succeeded' | 'failed' | 'running',
    finished: Date | null,
  ) =>
    p.hostRun.create({
      data: { ringId, hostId: hostIds[host] ?? null, hostName: host, state, finishedAt: finished },
    });
  await run(r1.id, 'pay-1', 'succeeded', d(3));
  await run(r1.id, 'pay-2', 'failed', d(3));
  await run(r1.id, 'pay-3', 'succeeded', d(40));
  await run(r2.id, 'pay-3', 'running', null);
  await run(r3.id, 'web-1', 'succeeded', d(1));

  // risk acceptances
  const accept = (data: {
    findingId?: string;
    changeRequestId?: string;
    expiresAt: Date;
    revokedAt?: Date;
    owner: string;
  }) =>
    p.riskAcceptance.create({
      data: { reason: `accepted by ${data.owner}`, createdBy: data.owner, surface: 'slack', ...data },
    });
  await accept({ findingId: findingIds.F6 ?? '', expiresAt: ahead(7), owner: 'alice' });
  await accept({ changeRequestId: crWeb.id, expiresAt: ahead(60), owner: 'bob' });
  await accept({ findingId: findingIds.F2 ?? '', expiresAt: ahead(20), revokedAt: d(1), owner: 'carol' });
  await accept({ findingId: findingIds.F4 ?? '', expiresAt: d(1), owner: 'dave' });
  return { hostIds, findingIds };
}
