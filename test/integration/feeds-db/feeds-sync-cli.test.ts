/**
 * `patchbot feeds sync` end to end: the real command in a child process, against a temp
 * PostgreSQL database (DATABASE_URL) and against an embedded database in a temp dir
 * (PATCHBOT_DATA_DIR, cwd a temp dir). Expected counts come from syncFeeds over an in-memory sink
 * (the oracle), not from constants.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/client.js';
import { syncFeeds } from '../../../src/feeds/sync.js';
import type { FeedSyncResult } from '../../../src/usecases/feeds-sync.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = path.join(ROOT, 'test/fixtures/feeds');
const GOOD = [
  path.join(FIXTURES, 'osv'),
  path.join(FIXTURES, 'kev'),
  path.join(FIXTURES, 'debian-tracker/bookworm-dsa-sample.tracker.json'),
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  const base = { ...process.env };
  for (const k of ['DATABASE_URL', 'PATCHBOT_DATA_DIR', 'PATCHBOT_CONFIG', 'LOG_LEVEL']) delete base[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/patchbot.js'), ...args], {
      cwd,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const fromArgs = (sources: string[]) => sources.flatMap((s) => ['--from', s]);

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Backend {
  kind: 'postgres' | 'embedded';
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Opens the database the CLI wrote (embedded: only while no CLI process runs). */
  open(): Promise<Database>;
  dispose(): Promise<void>;
}

async function postgresBackend(): Promise<Backend> {
  const pg: TempPostgres = await createTempPostgres('feeds_cli');
  const work: TempDir = await createTempDir('patchbot-feeds-cli');
  const env = { DATABASE_URL: pg.url };
  const migrate = await runCli(['db', 'migrate'], env, work.dir);
  if (migrate.code !== 0) throw new Error(`db migrate failed: ${migrate.stderr}`);
  return {
    kind: 'postgres',
    env,
    cwd: work.dir,
    open: () => openDatabase({ url: pg.url, dataDir: '/nonexistent' }),
    dispose: async () => {
      await pg.drop();
      await work.remove();
    },
  };
}

async function embeddedBackend(): Promise<Backend> {
  const work = await createTempDir('patchbot-feeds-cli');
  return {
    kind: 'embedded',
    env: { PATCHBOT_DATA_DIR: 'state' },
    cwd: work.dir,
    open: () => openDatabase({ dataDir: path.join(work.dir, 'state', 'db') }),
    dispose: () => work.remove(),
  };
}

async function countStored(backend: Backend): Promise<{ advisories: number; enrichments: number }> {
  const db = await backend.open();
  try {
    return {
      advisories: await db.prisma.advisory.count(),
      enrichments: await db.prisma.cveEnrichment.count(),
    };
  } finally {
    await db.close();
  }
}

for (const make of [postgresBackend, embeddedBackend]) {
  describe(`patchbot feeds sync [${make === postgresBackend ? 'postgres' : 'embedded'}]`, () => {
    let backend: Backend;
    const oracle = new MemoryFeedSink();

    beforeAll(async () => {
      backend = await make();
      await syncFeeds(GOOD, oracle);
    });
    afterAll(async () => {
      await backend?.dispose();
    });

    const sync = (args: string[]) => runCli(['feeds', 'sync', ...args], backend.env, backend.cwd);

    it('imports files and directories, prints the summary as data, and a second run changes nothing', async () => {
      const first = await sync([...fromArgs(GOOD), '--format', 'json']);
      expect(first.code, first.stderr).toBe(0);
      const result = JSON.parse(first.stdout) as FeedSyncResult;
      expect(result.sources.map((s) => s.source)).toEqual(GOOD);
      expect(result.sources.every((s) => s.status === 'ok')).toBe(true);
      const expectedNew = oracle.advisories.size + oracle.enrichment.kev.size;
      expect(result.totals).toMatchObject({ new: expectedNew, changed: 0, rejected: 0, failed: 0 });
      expect(await countStored(backend)).toEqual({
        advisories: oracle.advisories.size,
        enrichments: oracle.enrichment.kev.size,
      });

      const second = await sync([...fromArgs(GOOD), '--quiet']);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toBe('');
      const lines = second.stdout.split('\n');
      // the database first, then the summary table
      expect(lines[0]).toMatch(/^(embedded database at \/\S+|PostgreSQL at \S+ \(database \S+\))$/);
      expect(lines[1]).toMatch(/^source\s+read\s+new\s+changed\s+withdrawn\s+rejected\s+status$/);
      for (const source of GOOD) {
        expect(lines.find((l) => l.startsWith(source))).toMatch(/\s0\s+0\s+0\s+0\s+ok$/);
      }
      expect(lines.find((l) => l.startsWith('total'))).toMatch(
        new RegExp(`^total\\s+[\\d,]+\\s+0\\s+0\\s+0\\s+0$`),
      );
    });

    it('a malformed file among good ones: the good ones import, the bad record is named, stored data stays', async () => {
      const before = await countStored(backend);
      const dir = path.join(backend.cwd, 'mixed');
      await mkdir(dir, { recursive: true });
      await copyFile(
        path.join(FIXTURES, 'osv/npm/GHSA-c2qf-rxjj-qqgw.json'),
        path.join(dir, 'good-npm.json'),
      );
      await copyFile(path.join(FIXTURES, 'nvd/CVE-2023-4911.fkie-cad.json'), path.join(dir, 'nvd.json'));
      // a real USN record whose fixed version carries a shell command
      const usn = JSON.parse(await readFile(path.join(FIXTURES, 'osv/ubuntu/USN-6859-1.json'), 'utf8')) as {
        id: string;
        affected: { ranges: { events: Record<string, string>[] }[] }[];
      };
      usn.id = 'USN-6859-1-HOSTILE';
      usn.affected[0].ranges[0].events[1] = { fixed: '1:9.6p1-3ubuntu13.3;rm -rf /' };
      await writeFile(path.join(dir, 'hostile-usn.json'), JSON.stringify(usn));
      // a truncated document
      const text = await readFile(path.join(FIXTURES, 'osv/debian/osvdev_testdata_DSA-3029-1.json'), 'utf8');
      await writeFile(path.join(dir, 'truncated.json'), text.slice(0, Math.floor(text.length / 2)));

      const run = await sync(['--from', 'mixed', '--format', 'json']);
      // records were rejected: partial, not success
      expect(run.code, run.stderr).toBe(4);
      expect((JSON.parse(run.stdout) as FeedSyncResult).outcome).toBe('partial');
      const [source] = (JSON.parse(run.stdout) as FeedSyncResult).sources;
      const [want] = await syncFeeds([dir], oracle);
      expect(source).toMatchObject({ source: 'mixed', status: 'ok', rejectedCount: 2 });
      expect({ new: source.new, changed: source.changed, unchanged: source.unchanged }).toEqual({
        new: want.new,
        changed: want.changed,
        unchanged: want.unchanged,
      });
      const byFile = new Map(source.rejected.map((r) => [path.basename(r.source), r]));
      expect(byFile.get('hostile-usn.json')).toMatchObject({ recordId: 'USN-6859-1-HOSTILE' });
      expect(byFile.get('hostile-usn.json')?.reason).toMatch(/affected/);
      expect(byFile.get('truncated.json')).toMatchObject({ recordId: '(file)' });
      expect(byFile.get('truncated.json')?.reason).toMatch(/invalid JSON at line \d+/);

      // everything stored before is still there, plus what the good files brought
      const after = await countStored(backend);
      expect(after.advisories).toBe(oracle.advisories.size);
      expect(after.advisories).toBeGreaterThanOrEqual(before.advisories);
      expect(after.enrichments).toBe(
        new Set([...oracle.enrichment.kev.keys(), ...oracle.enrichment.nvd.keys()]).size,
      );
      const db = await backend.open();
      try {
        expect(await db.prisma.advisory.findUnique({ where: { id: 'USN-6859-1-HOSTILE' } })).toBeNull();
        const nvd = await db.prisma.cveEnrichment.findUnique({ where: { cve: 'CVE-2023-4911' } });
        expect(nvd?.kev).not.toBeNull();
        expect(nvd?.cvssScore).toBe(7.8);
      } finally {
        await db.close();
      }

      const text2 = await sync(['--from', 'mixed', '--quiet']);
      expect(text2.code).toBe(4);
      expect(text2.stdout).toContain('rejected records:');
      expect(text2.stdout).toMatch(/mixed\/hostile-usn\.json\s+USN-6859-1-HOSTILE\s+\S/);
      expect(text2.stdout).toMatch(/mixed\/truncated\.json\s+\(file\)\s+invalid JSON/);
    });

    it('an unreachable URL is reported, the other sources still import: exit code 4; alone: 1', async () => {
      const port = await closedPort();
      const url = `http://127.0.0.1:${port}/x.json`;
      const epss = path.join(FIXTURES, 'epss');
      const run = await sync(['--from', url, '--from', epss, '--format', 'json']);
      expect(run.code, run.stderr).toBe(4);
      const result = JSON.parse(run.stdout) as FeedSyncResult;
      expect(result.outcome).toBe('partial');
      expect(result.sources[0]).toMatchObject({ source: url, status: 'failed', read: 0 });
      expect(result.sources[0].error).toContain(`127.0.0.1:${port}`);
      expect(result.sources[1]).toMatchObject({ source: epss, status: 'ok', rejectedCount: 0 });
      const [want] = await syncFeeds([epss], new MemoryFeedSink());
      expect(result.sources[1].new).toBe(want.new);
      expect(result.totals.failed).toBe(1);

      const db = await backend.open();
      try {
        const state = await db.prisma.feedState.findUnique({ where: { source: url } });
        expect(state).toMatchObject({ lastStatus: 'error', syncedAt: null });
        expect(await db.prisma.cveEnrichment.count({ where: { epssScore: { not: null } } })).toBe(want.new);
      } finally {
        await db.close();
      }

      const text = await sync(['--from', url, '--quiet']);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(new RegExp(`^error: .*127\\.0\\.0\\.1:${port}`, 'm'));
      expect(text.stdout).toMatch(/FAILED$/m);
    });

    it('rejects bad usage with a message and exit code 2', async () => {
      const run = await sync(['--offline', '--from', 'x']);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('cannot be combined with --from');
      const format = await sync(['--format', 'yaml']);
      expect(format.code).toBe(2);
      expect(format.stderr).toContain('--format: expected text or json');
    });
  });
}

describe('feeds sync: what is not a feed, and how fresh the data is [postgres]', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await postgresBackend();
  });
  afterAll(async () => {
    await backend?.dispose();
  });
  const sync = (args: string[]) => runCli(['feeds', 'sync', ...args], backend.env, backend.cwd);

  it('a Debian DSA list (text) is named as such and fails the run with exit code 1, nothing stored', async () => {
    // the real head of the security tracker's data/DSA/list (test/fixtures/feeds/PROVENANCE.md)
    const list = path.join(ROOT, 'test/fixtures/feeds/debian-dsa-list/DSA_list_head400.txt');
    const run = await sync(['--from', list, '--format', 'json']);
    expect(run.code, run.stderr).toBe(1);
    const result = JSON.parse(run.stdout) as FeedSyncResult;
    expect(result.outcome).toBe('failed');
    expect(result.sources[0]).toMatchObject({ status: 'failed', read: 0, rejectedCount: 0 });
    expect(result.sources[0].error).toContain('a Debian DSA/DLA list');
    expect(result.sources[0].error).toContain('--from debian-tracker');
    const text = await sync(['--from', list, '--quiet']);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^error: .*DSA_list_head400\.txt: a Debian DSA\/DLA list/m);
    expect(await countStored(backend)).toEqual({ advisories: 0, enrichments: 0 });
  });

  it('--offline imports the bundled snapshot with the NVD records of its CVEs, marked as bundled', async () => {
    const run = await sync(['--offline', '--format', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as FeedSyncResult;
    // nvd is not an enabled source of the default policy: it comes with the bundled advisories
    expect(result.sources.map((s) => s.source)).toEqual([
      'debian-tracker',
      'osv-debian',
      'kev',
      'epss',
      'nvd',
    ]);
    expect(result.sources.every((s) => s.origin === 'bundled' && s.status === 'ok')).toBe(true);
    const db = await backend.open();
    try {
      const rows = new Map((await db.prisma.feedFreshness.findMany()).map((r) => [r.feed, r]));
      for (const feed of ['debian-tracker', 'osv:Debian', 'kev', 'epss', 'nvd'])
        expect(rows.get(feed)?.bundled, feed).toBe(true);
      // formats without a date of their own: the snapshot's date, not the files' mtimes
      expect(rows.get('debian-tracker')).toMatchObject({ basis: 'bundled' });
      expect(rows.get('debian-tracker')?.asOf.toISOString()).toBe('2025-08-25T00:00:00.000Z');
      expect(rows.get('kev')?.asOf.toISOString().slice(0, 10)).toBe('2025-08-25');
      // every CVE of the bookworm sample has its NVD record; the one with an NVD score has it stored
      const regresshion = await db.prisma.cveEnrichment.findUnique({ where: { cve: 'CVE-2024-6387' } });
      expect(regresshion?.cvssScore).toBe(8.1);
      expect(await db.prisma.cveEnrichment.count({ where: { nvdModified: { not: null } } })).toBe(10);
    } finally {
      await db.close();
    }
    const readme = await readFile(path.join(ROOT, 'data/feeds/README.md'), 'utf8');
    expect(readme).toContain('Snapshot date: **2025-08-25**');
  });
  it('records each feed with its own date, or the file date where the format has none', async () => {
    const dir = path.join(backend.cwd, 'dated');
    await mkdir(dir, { recursive: true });
    const tracker = path.join(dir, 'tracker.json');
    await copyFile(path.join(FIXTURES, 'debian-tracker/bookworm-dsa-sample.tracker.json'), tracker);
    // a tracker dump downloaded three days ago
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
    await utimes(tracker, threeDaysAgo, threeDaysAgo);
    const run = await sync([
      '--from',
      tracker,
      '--from',
      path.join(FIXTURES, 'kev'),
      '--from',
      path.join(FIXTURES, 'epss'),
      '--from',
      path.join(FIXTURES, 'nvd'),
      '--format',
      'json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as FeedSyncResult;
    expect(result.outcome).toBe('ok');
    const kevCatalog = JSON.parse(
      await readFile(path.join(FIXTURES, 'kev/known_exploited_vulnerabilities.json'), 'utf8'),
    ) as { dateReleased: string };
    const epssLine = (await readFile(path.join(FIXTURES, 'epss/epss_scores-current_head.csv'), 'utf8')).split(
      '\n',
    )[0];
    const scoreDate = /score_date:(\d{4}-\d{2}-\d{2})/.exec(epssLine ?? '')?.[1];
    const nvd = JSON.parse(
      await readFile(path.join(FIXTURES, 'nvd/CVE-2023-4911.fkie-cad.json'), 'utf8'),
    ) as {
      lastModified: string;
    };
    const db = await backend.open();
    try {
      const rows = new Map((await db.prisma.feedFreshness.findMany()).map((r) => [r.feed, r]));
      expect(rows.get('debian-tracker')).toMatchObject({ basis: 'file', bundled: false, checkedAt: null });
      expect(rows.get('debian-tracker')?.asOf.getTime()).toBe(threeDaysAgo.getTime());
      expect(rows.get('debian-tracker')?.ecosystems).toContain('Debian:12');
      expect(rows.get('kev')).toMatchObject({ basis: 'published', bundled: false });
      expect(rows.get('kev')?.asOf.toISOString()).toBe(new Date(kevCatalog.dateReleased).toISOString());
      expect(rows.get('epss')).toMatchObject({ basis: 'published' });
      expect(rows.get('epss')?.asOf.toISOString().slice(0, 10)).toBe(scoreDate);
      expect(rows.get('nvd')).toMatchObject({ basis: 'published' });
      expect(rows.get('nvd')?.asOf.toISOString()).toBe(new Date(`${nvd.lastModified}Z`).toISOString());
    } finally {
      await db.close();
    }
    const text = await sync(['--from', tracker, '--quiet']);
    expect(text.stdout).toMatch(/^data as of:$/m);
    expect(text.stdout).toMatch(
      new RegExp(`^  debian-tracker\\s+${threeDaysAgo.toISOString().slice(0, 10)}$`, 'm'),
    );

    // NVD data from elsewhere is stored now: the bundled NVD records (older) are not read over it
    const offline = await sync(['--offline', '--format', 'json']);
    expect(offline.code, offline.stderr).toBe(0);
    expect((JSON.parse(offline.stdout) as FeedSyncResult).sources.map((x) => x.source)).not.toContain('nvd');
  });
});
