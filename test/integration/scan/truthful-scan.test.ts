/**
 * What `patchbot scan` tells a new user, through the CLI against real PostgreSQL:
 * - with only the bundled snapshot (`feeds sync --offline`, what a first run without internet
 *   imports), a real Debian 12 status file with glibc set back to 2.36-9+deb12u1 and openssh-server
 *   at 1:9.2p1-2+deb12u2 gets CVE-2023-4911 at high or above with its KEV reason and CVE-2024-6387 at
 *   medium or above with its real CVSS; one row per fix; the data's age first; exit 4 (not assessed
 *   against current advisories);
 * - a release with no advisories (Ubuntu 22.04 here) is "not assessed", never "nothing to install";
 * - `--fail-on` gates (exit 3), partial results exit 4 (hosts skipped), and the JSON says the same.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const STATUS = path.join(fixtures, 'inventory/debian12-dpkg-status');
const TRACKER = path.join(fixtures, 'scan/bookworm-dsa-sample.tracker.json');

/**
 * The real status file with every glibc binary at 2.36-9+deb12u1 and the openssh binaries at
 * 1:9.2p1-2+deb12u2, plus openssh-server (the machine had only the client) built from the client's
 * own paragraph, as dpkg would list it.
 */
function vulnerableStatus(): string {
  const paras = readFileSync(STATUS, 'utf8').trim().split(/\n\n+/);
  const out: string[] = [];
  for (const p of paras) {
    const name = /^Package: (.+)$/m.exec(p)?.[1] ?? '';
    const source = /^Source: (\S+)/m.exec(p)?.[1] ?? name;
    if (source === 'glibc') out.push(p.replace(/^Version: .*$/m, 'Version: 2.36-9+deb12u1'));
    else if (source === 'openssh') {
      const client = p.replace(/^Version: .*$/m, 'Version: 1:9.2p1-2+deb12u2');
      out.push(client);
      out.push(client.replace(/^Package: openssh-client$/m, 'Package: openssh-server'));
    } else out.push(p);
  }
  return `${out.join('\n\n')}\n`;
}

interface Factor {
  name: string;
  label: string;
  value: unknown;
  basis?: string;
}
interface Risk {
  score: number;
  severity: string;
  factors: Factor[];
}
interface ScanJson {
  schemaVersion: number;
  notice: string | null;
  feeds: { source: string; asOf: string; ageDays: number; stale: boolean; bundled: boolean }[];
  outcome: { exitCode: number; partial: boolean; reasons: string[]; thresholdReached: boolean };
  hosts: { name: string; assessment: { assessed: boolean; advisories: string; detail: string } }[];
  skipped: { host: string; reason: string }[];
  summary: { fixes: number; findings: number; kev: number; hostsNotAssessed: number; hostsSkipped: number };
  findings: {
    package: string;
    cves: string[];
    kev: boolean;
    risk: Risk;
    dueReason: string;
    kevDueDate: string | null;
  }[];
  fixes: {
    host: string;
    sourcePackage: string;
    fixedVersion: string | null;
    packages: string[];
    cves: string[];
    kevCves: string[];
    risk: Risk;
    dueDate: string;
    kevDueDate: string | null;
  }[];
}

const HIGH_OR_ABOVE = ['high', 'critical'];
const MEDIUM_OR_ABOVE = ['medium', 'high', 'critical'];

describe('scan with only the bundled snapshot', () => {
  let pg: TempPostgres;
  let tmp: TempDir;
  let env: NodeJS.ProcessEnv;
  let statusFile: string;
  const cli = (...args: string[]) => runCli(args, env, tmp.dir);

  beforeAll(async () => {
    pg = await createTempPostgres('truthful_scan');
    tmp = await createTempDir('truthful-scan');
    env = { DATABASE_URL: pg.url };
    expect((await cli('db', 'migrate')).code).toBe(0);
    const synced = await cli('feeds', 'sync', '--offline', '--quiet');
    expect(synced.code, synced.stderr + synced.stdout).toBe(0);
    statusFile = path.join(tmp.dir, 'debian12-status');
    writeFileSync(statusFile, vulnerableStatus());
    // the edited file parses to the versions set above
    const parsed = parseDpkgStatus(readFileSync(statusFile, 'utf8')).packages;
    expect(parsed.find((p) => p.name === 'openssh-server')?.version).toBe('1:9.2p1-2+deb12u2');
    expect(parsed.find((p) => p.name === 'libc6')?.version).toBe('2.36-9+deb12u1');
  });
  afterAll(async () => {
    await pg?.drop();
    await tmp?.remove();
  });

  it('CVE-2023-4911 is high or above with its KEV reason; CVE-2024-6387 medium or above with a known CVSS', async () => {
    const run = await cli(
      'scan',
      '--dpkg-status',
      statusFile,
      '--os',
      'debian:12',
      '--format',
      'json',
      '--quiet',
    );
    const json = JSON.parse(run.stdout) as ScanJson;
    expect(json.schemaVersion).toBe(2);

    const looney = json.findings.filter((f) => f.cves.includes('CVE-2023-4911'));
    expect(looney.map((f) => f.package)).toContain('libc6');
    for (const f of looney) {
      expect(HIGH_OR_ABOVE).toContain(f.risk.severity);
      expect(f.kev).toBe(true);
      expect(f.risk.factors.find((x) => x.name === 'kev')?.label).toContain('in CISA KEV since 2023-11-21');
      expect(f.kevDueDate).toBe('2023-12-12');
      expect(f.dueReason).toContain('KEV due 2023-12-12 (CVE-2023-4911) passed before first seen');
    }

    const regresshion = json.findings.find((f) => f.package === 'openssh-server');
    expect(regresshion?.cves).toContain('CVE-2024-6387');
    expect(MEDIUM_OR_ABOVE).toContain(regresshion?.risk.severity);
    const cvss = regresshion?.risk.factors.find((x) => x.name === 'cvss');
    // the real NVD score from the bundled record, not a stand-in
    expect(cvss).toMatchObject({ basis: 'cvss', value: 8.1 });
    expect(cvss?.label).toContain('CVE-2024-6387');
  });

  it('text: the data age first, one row per fix, no line over 100 columns, exit 4 (not assessed)', async () => {
    const run = await cli('scan', '--dpkg-status', statusFile, '--os', 'debian:12', '--quiet');
    expect(run.code, run.stderr).toBe(4);
    const lines = run.stdout.split('\n');
    // the database first, then how old the data is
    expect(lines[0]).toMatch(/^(embedded database at \/\S+|PostgreSQL at \S+ \(database \S+\))$/);
    expect(lines[1]).toMatch(/^WARNING: advisory data is \d+ days old \(bundled snapshot: debian-tracker/);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(run.stdout).toContain('NOT ASSESSED debian12-status: advisories for debian 12 are');
    // one row per host x source package x fixed version
    const rows = lines.filter((l) => /^\s{0,2}\d{1,3} (CRITICAL|HIGH|MEDIUM|LOW|NONE)\s/.test(l));
    const glibc = rows.filter((l) => / glibc 2\.36-9\+deb12u1 -> 2\.36-9\+deb12u7 \(/.test(l));
    expect(glibc).toHaveLength(1);
    expect(run.stdout).toMatch(/glibc 2\.36-9\+deb12u1 -> 2\.36-9\+deb12u7 \([^)]*5 CVEs, 1 KEV\)/s);
    expect(rows.filter((l) => / openssh 1:9\.2p1-2\+deb12u2 -> 1:9\.2p1-2\+deb12u3 /.test(l))).toHaveLength(
      1,
    );
    const json = JSON.parse(
      (await cli('scan', '--dpkg-status', statusFile, '--os', 'debian:12', '--format', 'json', '--quiet'))
        .stdout,
    ) as ScanJson;
    // counts are of fixes: as many rows as fixes, fewer than the per-binary findings
    expect(rows).toHaveLength(json.fixes.length);
    expect(json.summary.fixes).toBe(json.fixes.length);
    expect(json.summary.findings).toBeGreaterThan(json.fixes.length);
    expect(run.stdout).toContain(
      `${json.fixes.length} fixes to install on 1 host, ${json.summary.kev} for actively exploited CVEs (KEV)`,
    );
    expect(json.summary.kev).toBe(1);
    const glibcFix = json.fixes.find((f) => f.sourcePackage === 'glibc');
    expect(glibcFix).toMatchObject({
      fixedVersion: '2.36-9+deb12u7',
      kevCves: ['CVE-2023-4911'],
      kevDueDate: '2023-12-12',
    });
    expect(glibcFix?.packages).toEqual(expect.arrayContaining(['libc6', 'libc-bin', 'locales']));
    expect(run.stdout).toMatch(
      new RegExp(`KEV due 2023-12-12 passed before first seen; due ${glibcFix?.dueDate}`),
    );
    // the JSON tells the same truth as the exit code
    expect(json.outcome).toMatchObject({ exitCode: 4, partial: true });
    expect(json.hosts[0]?.assessment).toMatchObject({ assessed: false, advisories: 'stale' });
    expect(json.notice).toMatch(/^advisory data is \d+ days old/);
    expect(json.feeds.every((f) => f.bundled && f.stale)).toBe(true);
  });

  it('a release with no advisories is not assessed: exit 4, never "nothing to install"', async () => {
    const run = await cli('scan', '--dpkg-status', statusFile, '--os', 'ubuntu:22.04', '--quiet');
    expect(run.code, run.stderr).toBe(4);
    expect(run.stdout).toContain(
      'NOT ASSESSED debian12-status: no advisories for ubuntu 22.04 (run `patchbot feeds sync`',
    );
    expect(run.stdout).not.toContain('nothing to install');
    expect(run.stdout).toContain('that is not a clean bill of health');
    const json = JSON.parse(
      (await cli('scan', '--dpkg-status', statusFile, '--os', 'ubuntu:22.04', '--format', 'json', '--quiet'))
        .stdout,
    ) as ScanJson;
    expect(json.outcome).toMatchObject({ exitCode: 4, partial: true });
    expect(json.hosts[0]?.assessment).toMatchObject({ assessed: false, advisories: 'none' });
    expect(json.summary).toMatchObject({ fixes: 0, hostsNotAssessed: 1 });
  });
});

describe('scan exit codes with current advisories', () => {
  let pg: TempPostgres;
  let tmp: TempDir;
  let env: NodeJS.ProcessEnv;
  let statusFile: string;
  let db: Database;
  let repos: Repositories;
  const cli = (...args: string[]) => runCli(args, env, tmp.dir);

  beforeAll(async () => {
    pg = await createTempPostgres('scan_exit');
    tmp = await createTempDir('scan-exit');
    env = { DATABASE_URL: pg.url };
    expect((await cli('db', 'migrate')).code).toBe(0);
    // the bookworm DSAs as a tracker dump downloaded now: current advisories for Debian 12
    const tracker = path.join(tmp.dir, 'tracker.json');
    copyFileSync(TRACKER, tracker);
    expect((await cli('feeds', 'sync', '--from', tracker, '--quiet')).code).toBe(0);
    // KEV, EPSS and NVD of the bundled snapshot (stale, but they only enrich: the host is assessed)
    const bundled = fileURLToPath(new URL('../../../data/feeds/', import.meta.url));
    const enrich = ['kev', 'epss', 'nvd'].flatMap((f) => ['--from', path.join(bundled, f)]);
    expect((await cli('feeds', 'sync', ...enrich, '--quiet')).code).toBe(0);
    statusFile = path.join(tmp.dir, 'debian12-status');
    writeFileSync(statusFile, vulnerableStatus());
    db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
    repos = createRepositories(db);
  });
  afterAll(async () => {
    await db?.close();
    await pg?.drop();
    await tmp?.remove();
  });

  it('--fail-on: 3 when a fix reaches the band, else 0 (every host assessed)', async () => {
    const args = ['scan', '--dpkg-status', statusFile, '--os', 'debian:12', '--quiet'];
    const json = JSON.parse((await cli(...args, '--format', 'json')).stdout) as ScanJson;
    expect(json.hosts[0]?.assessment.assessed).toBe(true);
    const worst = Math.max(...json.fixes.map((f) => f.risk.score));
    expect(json.fixes.some((f) => f.risk.severity === 'high')).toBe(true);
    expect(json.fixes.some((f) => f.risk.severity === 'critical')).toBe(false);

    const plain = await cli(...args);
    expect(plain.code, plain.stdout).toBe(0);
    expect(plain.stdout).not.toContain('NOT ASSESSED');
    const high = await cli(...args, '--fail-on', 'high');
    expect(high.code).toBe(3);
    expect(high.stdout).toContain('(--fail-on high reached)');
    const highJson = JSON.parse(
      (await cli(...args, '--fail-on', 'high', '--format', 'json')).stdout,
    ) as ScanJson;
    expect(highJson.outcome).toMatchObject({ exitCode: 3, thresholdReached: true, partial: false });
    const critical = await cli(...args, '--fail-on', 'critical');
    expect(critical.code, `worst score ${worst}`).toBe(0);
  });

  it('scan --all with hosts that have no inventory: the others are scanned, exit 4, the skipped named', async () => {
    const snapshotOf = (text: string) => ({
      os: { id: 'debian', family: 'debian' as const, versionId: '12', codename: 'bookworm' },
      kernel: '6.1.0-13-amd64',
      packageManager: 'dpkg' as const,
      packages: parseDpkgStatus(text).packages,
      rebootRequired: false,
      rebootPackages: [],
      collectedAt: new Date(),
    });
    for (const name of ['web-1', 'web-2', 'db-1', 'db-2', 'lb-1'])
      await repos.hosts.upsert({ name, address: `${name}.example.net` });
    await repos.inventory.save('web-1', snapshotOf(vulnerableStatus()));
    await repos.inventory.save('web-2', snapshotOf(readFileSync(STATUS, 'utf8')));

    const run = await cli('scan', '--all', '--no-collect', '--format', 'json', '--quiet');
    expect(run.code, run.stderr).toBe(4);
    const json = JSON.parse(run.stdout) as ScanJson;
    expect(json.hosts.map((h) => h.name).sort()).toEqual(['web-1', 'web-2']);
    expect(json.skipped.map((s) => s.host).sort()).toEqual(['db-1', 'db-2', 'lb-1']);
    expect(json.skipped[0]?.reason).toContain('no inventory stored yet');
    expect(json.summary.hostsSkipped).toBe(3);
    expect(json.outcome.reasons).toHaveLength(3);
    const text = await cli('scan', '--all', '--no-collect', '--quiet');
    expect(text.code).toBe(4);
    for (const h of ['db-1', 'db-2', 'lb-1'])
      expect(text.stdout).toContain(`PARTIAL ${h}: skipped: no inventory stored yet`);

    const two = await cli('scan', '--host', 'web-1', '--host', 'web-2', '--no-collect', '--quiet');
    expect(two.code, two.stdout).toBe(0);
  });
});
