/**
 * Coverage counts only what was assessed, through the CLI against real PostgreSQL: three hosts of
 * which one has an inventory read 33% (1 of 3) in text, JSON and CSV, and the other two are named as
 * never scanned; the weekly digest of a team without inventoried hosts is never "On track"; a
 * digest that could not be posted is not success (exit 4).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScopeMetrics } from '../../../src/core/metrics/definitions.js';
import { createRepositories, openDatabase, type Database } from '../../../src/db/index.js';
import { parseDpkgStatus } from '../../../src/inventory/parsers/dpkg.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const STATUS = path.join(fixtures, 'inventory/debian12-dpkg-status');
const TRACKER = path.join(fixtures, 'scan/bookworm-dsa-sample.tracker.json');
const CH = { web: 'C0WEBTEAM01', quiet: 'C0QUIETTM01' };

interface ReportJson {
  notice: string | null;
  feeds: { source: string; stale: boolean }[];
  metrics: ScopeMetrics;
  hosts?: { name: string; state: string; detail: string; lastInventoryAt: string | null }[];
}

let pg: TempPostgres;
let tmp: TempDir;
let db: Database;
let fake: FakeSlackWebApi;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, env, tmp.dir);

beforeAll(async () => {
  pg = await createTempPostgres('coverage_assessed');
  tmp = await createTempDir('coverage-assessed');
  fake = await FakeSlackWebApi.start();
  const policy = path.join(tmp.dir, 'patchbot.yaml');
  await writeFile(
    policy,
    stringify({
      teams: [
        { name: 'web', slack: { channels: [CH.web] } },
        { name: 'quiet', slack: { channels: [CH.quiet] } },
        { name: 'nochannel' },
      ],
    }),
  );
  env = {
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: policy,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: 'a'.repeat(32),
    SLACK_API_URL: fake.apiUrl,
  };
  expect((await cli('db', 'migrate')).code).toBe(0);
  for (const [name, team] of [
    ['web-1', 'web'],
    ['web-2', 'web'],
    ['web-3', 'web'],
    ['quiet-1', 'quiet'],
    ['quiet-2', 'quiet'],
  ]) {
    const added = await cli('hosts', 'add', name, '--address', `${name}.example.net`, '--team', team);
    expect(added.code, added.stderr).toBe(0);
  }
  // current Debian 12 advisories (a tracker dump dated now) and one inventoried host: web-1
  const tracker = path.join(tmp.dir, 'tracker.json');
  copyFileSync(TRACKER, tracker);
  expect((await cli('feeds', 'sync', '--from', tracker, '--quiet')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  await createRepositories(db).inventory.save('web-1', {
    os: { id: 'debian', family: 'debian', versionId: '12', codename: 'bookworm' },
    kernel: '6.1.0-13-amd64',
    packageManager: 'dpkg',
    packages: parseDpkgStatus(readFileSync(STATUS, 'utf8')).packages,
    rebootRequired: false,
    rebootPackages: [],
    collectedAt: new Date(),
  });
}, 120_000);

afterAll(async () => {
  await db?.close();
  await fake?.close();
  await pg?.drop();
  await tmp?.remove();
});

describe('report coverage counts only what was assessed', () => {
  it('3 hosts, 1 inventoried: 33% (1 of 3) in text, JSON and CSV; the 2 others named as never scanned', async () => {
    const text = await cli('report', 'coverage', '--team', 'web', '--hosts');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('Host coverage 33.3% (1 of 3 hosts): assessed, with no open finding');
    expect(text.stdout).toContain('assessed 1 of 3 hosts · never scanned 2');
    const lines = text.stdout.split('\n');
    const at = lines.indexOf('  never scanned (2):');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 3).map((l) => l.split(':')[0]?.trim())).toEqual(['web-2', 'web-3']);
    expect(lines[at + 1]).toContain('no inventory stored (run `patchbot inventory collect`)');
    // without --hosts: the numbers, and how to get the names
    const plain = await cli('report', 'coverage', '--team', 'web');
    expect(plain.stdout).toContain('(--hosts names every host and why it is not covered)');

    const json = JSON.parse(
      (await cli('report', 'coverage', '--team', 'web', '--hosts', '--format', 'json')).stdout,
    ) as ReportJson;
    expect(json.metrics.hosts).toMatchObject({
      total: 3,
      covered: 1,
      coverage: 1 / 3,
      inventoried: 1,
      states: { covered: 1, atRisk: 0, neverScanned: 2, inventoryStale: 0, noAdvisories: 0, unreachable: 0 },
    });
    expect(json.hosts?.map((h) => [h.name, h.state])).toEqual([
      ['web-1', 'covered'],
      ['web-2', 'neverScanned'],
      ['web-3', 'neverScanned'],
    ]);
    expect(json.feeds.find((f) => f.source === 'debian-tracker')?.stale).toBe(false);
    expect(json.notice).toBeNull();

    const csv = parse<Record<string, string>>(
      (await cli('report', 'coverage', '--team', 'web', '--format', 'csv')).stdout,
      {
        columns: true,
      },
    );
    expect(csv[0]).toMatchObject({
      kind: 'team',
      name: 'web',
      hosts: '3',
      hosts_covered: '1',
      coverage: String(1 / 3),
      hosts_never_scanned: '2',
    });
    const hostRows = parse<Record<string, string>>(
      (await cli('report', 'coverage', '--team', 'web', '--hosts', '--format', 'csv')).stdout,
      { columns: true },
    );
    expect(hostRows.map((r) => [r.host, r.state])).toEqual([
      ['web-1', 'covered'],
      ['web-2', 'neverScanned'],
      ['web-3', 'neverScanned'],
    ]);
  });

  it('the fleet: 1 of 5 covered; no host is covered once the advisories are stale', async () => {
    const json = JSON.parse((await cli('report', 'coverage', '--format', 'json')).stdout) as ReportJson;
    expect(json.metrics.hosts).toMatchObject({ total: 5, covered: 1, states: { neverScanned: 4 } });
    // the tracker dump was downloaded 3 days ago: past feeds.maxAge (2 days)
    await db.prisma.feedFreshness.update({
      where: { feed: 'debian-tracker' },
      data: { asOf: new Date(Date.now() - 3 * 86_400_000) },
    });
    try {
      const stale = await cli('report', 'coverage', '--hosts');
      expect(stale.stdout.split('\n')[0]).toMatch(/^PostgreSQL at 127\.0\.0\.1:5432 \(database \S+\)$/);
      expect(stale.stdout.split('\n')[1]).toBe(
        'WARNING: advisory data is 3 days old (stale: debian-tracker); run `patchbot feeds sync`',
      );
      expect(stale.stdout).toContain('Host coverage 0.0% (0 of 5 hosts)');
      expect(stale.stdout).toMatch(
        / {2}no advisories \(1\):\n {4}web-1: advisories for debian 12 are 3 days old/,
      );
    } finally {
      await db.prisma.feedFreshness.update({ where: { feed: 'debian-tracker' }, data: { asOf: new Date() } });
    }
  });
});

describe('digest --now', () => {
  it('a team with no inventoried host is "Action required", not "On track", naming the hosts', async () => {
    const run = await cli('digest', '--now', '--team', 'quiet');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^quiet \(week of .*\): posted to slack:C0QUIETTM01 with its chart; verdict: Action required$/m,
    );
    const [posted] = fake.messages.filter((m) => m.channel === CH.quiet && !m.threadTs);
    expect(posted?.text).toContain('Action required (2 hosts were not assessed, of 2 (2 never scanned))');
    const blocks = JSON.stringify(posted?.blocks);
    expect(blocks).toContain('*never scanned* (2): quiet-1, quiet-2');
  });

  it('a digest that is not posted is not success: exit 4, and the JSON says why', async () => {
    const run = await cli('digest', '--now', '--team', 'nochannel', '--format', 'json');
    expect(run.code).toBe(4);
    const out = JSON.parse(run.stdout) as { outcome: string; results: { team: string; outcome: string }[] };
    expect(out.outcome).toBe('partial');
    expect(out.results).toMatchObject([{ team: 'nochannel', outcome: 'no-destination' }]);
    const text = await cli('digest', '--now', '--team', 'nochannel');
    expect(text.code).toBe(4);
    expect(text.stdout).toContain('not posted: the team has no chat channel');
  });
});
