import { mkdtemp, readFile, rm, writeFile, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncFeeds, type SyncProgress } from '../../../src/feeds/sync.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';
import { buildZip } from '../../support/zip-writer.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/feeds');
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'patchbot-feeds-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const fixture = (p: string) => join(FIXTURES, p);
const readText = (p: string) => readFile(fixture(p), 'utf8');

describe('syncFeeds over the real fixtures', () => {
  it('imports every fixture file, each by its content, and a re-import changes nothing', async () => {
    const sink = new MemoryFeedSink();
    const progress: SyncProgress[] = [];
    const [first] = await syncFeeds([FIXTURES], sink, {
      onProgress: (p) => progress.push(p),
      limits: { batchSize: 100 },
    });
    expect(first?.error).toBeUndefined();
    expect(first?.rejected).toEqual([]);
    // Only the provenance note, the debsecan oracle and the DSA list are not feed formats: in a
    // directory they are skipped, not rejected.
    expect(first?.skipped.map((s) => s.slice(FIXTURES.length + 1)).sort()).toEqual([
      'PROVENANCE.md',
      'debian-dsa-list/DSA_list_head400.txt',
      'debian-tracker/debsecan-bookworm.txt',
    ]);
    expect(new Set(first?.formats)).toEqual(new Set(['osv', 'debian-tracker', 'kev', 'epss', 'nvd']));
    // 10 OSV records; tracker: 10 + 3 + 8 issues; KEV 1,404; EPSS 20; NVD 1.
    expect(sink.advisories.size).toBe(10 + 10 + 3 + 7);
    expect(sink.enrichment.kev.size).toBe(1404);
    expect(sink.enrichment.epss.size).toBe(20);
    expect(sink.enrichment.nvd.get('CVE-2023-4911')?.item.cvss[0]?.baseScore).toBe(7.8);
    expect(first?.new).toBe(sink.advisories.size + 1404 + 20 + 1);
    expect(Math.max(...sink.batchSizes)).toBeLessThanOrEqual(100);
    expect(progress.at(-1)).toMatchObject({ unit: 'files', total: 19, done: 19 });

    const [again] = await syncFeeds([FIXTURES], sink);
    expect(again).toMatchObject({ new: 0, changed: 0, withdrawn: 0, rejectedCount: 0 });
    expect(again?.unchanged).toBe(first?.new);
  });

  it('reports a changed and a withdrawn record on the next import', async () => {
    const sink = new MemoryFeedSink();
    const file = join(work, 'ghsa.json');
    const record = JSON.parse(await readText('osv/npm/GHSA-c2qf-rxjj-qqgw.json')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify(record));
    await syncFeeds([file], sink);
    await writeFile(
      file,
      JSON.stringify({ ...record, withdrawn: '2025-01-01T00:00:00Z', modified: '2025-01-01T00:00:00Z' }),
    );
    const [summary] = await syncFeeds([file], sink);
    expect(summary).toMatchObject({ new: 0, changed: 1, withdrawn: 1 });
  });
});

describe('hostile inputs', () => {
  it('imports the good records of a zip and rejects traversal, absolute, oversized and broken entries', async () => {
    const good = await readText('osv/ubuntu/USN-6859-1.json');
    const npm = await readText('osv/npm/GHSA-c2qf-rxjj-qqgw.json');
    const unknownEco = JSON.stringify({
      id: 'GO-2024-0001',
      modified: '2024-01-01T00:00:00Z',
      affected: [{ package: { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core' } }],
    });
    const zip = buildZip([
      { name: 'USN-6859-1.json', data: good },
      { name: '../evil.json', data: npm },
      { name: '/etc/cron.d/evil.json', data: npm },
      { name: 'C:/evil.json', data: npm },
      { name: 'bomb.json', data: Buffer.alloc(2 * 1024 * 1024, 0x20) },
      { name: 'liar.json', data: Buffer.alloc(300 * 1024, 0x20), declaredSize: 10 },
      { name: 'broken.json', data: '{"id": "GHSA-broken", "modified": ' },
      {
        name: 'huge.json',
        data: JSON.stringify({
          id: 'GHSA-huge',
          modified: '2024-01-01T00:00:00Z',
          affected: [],
          details: 'x'.repeat(1024 * 1024 + 1),
        }),
      },
      { name: 'GO-2024-0001.json', data: unknownEco },
      { name: 'dir/GHSA-c2qf-rxjj-qqgw.json', data: npm },
    ]);
    const path = join(work, 'all.zip');
    await writeFile(path, zip);
    const sink = new MemoryFeedSink();
    const progress: SyncProgress[] = [];
    const [s] = await syncFeeds([path], sink, {
      limits: { maxZipEntryBytes: 1024 * 1024 + 4096 },
      onProgress: (p) => progress.push(p),
    });
    expect(s?.error).toBeUndefined();
    expect([...sink.advisories.keys()].sort()).toEqual(['GHSA-c2qf-rxjj-qqgw', 'GO-2024-0001', 'USN-6859-1']);
    expect(sink.advisories.get('GO-2024-0001')?.advisory.affected).toEqual([]);
    const reasons = Object.fromEntries(
      s?.rejected.map((r) => [r.recordId, `${r.source} | ${r.reason}`]) ?? [],
    );
    expect(reasons['../evil.json']).toMatch(/all\.zip \| unsafe zip entry name \(path traversal/);
    expect(reasons['/etc/cron.d/evil.json']).toMatch(/absolute path/);
    expect(reasons['C:/evil.json']).toMatch(/absolute path/);
    expect(reasons['bomb.json']).toMatch(/over the \d+-byte limit/);
    expect(reasons['liar.json']).toMatch(/corrupt zip entry|inflates past/);
    expect(reasons['(file)']).toMatch(/broken\.json \| invalid JSON/);
    expect(reasons['GHSA-huge']).toMatch(/huge\.json \| invalid OSV record: details: Too big/);
    expect(reasons['GO-2024-0001']).toMatch(
      /unsupported ecosystem "Maven" in|unsupported ecosystem "Maven", skipped/,
    );
    expect(s?.rejectedCount).toBe(8);
    expect(progress.at(-1)).toMatchObject({ unit: 'entries', total: 10, done: 10 });
  });

  it('stops a zip that inflates past the total limit, keeping what came before', async () => {
    const npm = await readText('osv/npm/GHSA-c2qf-rxjj-qqgw.json');
    const usn = await readText('osv/ubuntu/USN-6859-1.json');
    const path = join(work, 'bomb.zip');
    await writeFile(
      path,
      buildZip([
        { name: 'a.json', data: npm },
        { name: 'b.json', data: usn },
      ]),
    );
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([path], sink, { limits: { maxZipTotalBytes: npm.length + 10 } });
    expect(s?.error).toMatch(/inflates past the \d+-byte limit at entry b\.json/);
    expect([...sink.advisories.keys()]).toEqual(['GHSA-c2qf-rxjj-qqgw']);
  });

  it('imports the rows before a truncated gzip and names the problem', async () => {
    const rows = ['#model_version:v2025.03.14,score_date:2025-08-15T00:00:00Z', 'cve,epss,percentile'];
    for (let i = 0; i < 50_000; i++) rows.push(`CVE-2024-${String(10000 + i)},0.0${i % 10},0.5`);
    const gz = gzipSync(rows.join('\n'));
    const path = join(work, 'epss-truncated.csv.gz');
    await writeFile(path, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([path], sink, { limits: { batchSize: 1000 } });
    expect(s?.error).toMatch(
      /epss-truncated\.csv\.gz: gzip data is truncated or corrupt \(unexpected end of file\)/,
    );
    expect(sink.enrichment.epss.size).toBeGreaterThan(1000);
    expect(sink.enrichment.epss.size).toBeLessThan(50_000);
    expect(sink.enrichment.epss.size).toBe(s?.new);
  });

  it('reads a large gzip EPSS file in batches', async () => {
    const rows = ['#model_version:v2025.03.14,score_date:2025-08-15T00:00:00Z', 'cve,epss,percentile'];
    for (let i = 0; i < 120_000; i++)
      rows.push(`CVE-${2000 + (i % 25)}-${String(10000 + i)},0.${String(i % 100000).padStart(5, '0')},0.5`);
    const path = join(work, 'epss.csv.gz');
    await writeFile(path, gzipSync(rows.join('\n')));
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([path], sink);
    expect(s).toMatchObject({ read: 120_000, new: 120_000, rejectedCount: 0 });
    expect(Math.max(...sink.batchSizes)).toBe(500);
    expect(sink.enrichment.epss.get('CVE-2000-10000')?.item.epss).toEqual({
      score: 0,
      percentile: 0.5,
      date: '2025-08-15',
    });
  });

  it('keeps good records next to bad ones in a directory, and names each bad one', async () => {
    const dir = join(work, 'mixed');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await copyFile(fixture('osv/pypi/PYSEC-2023-74.yaml'), join(dir, 'sub', 'good.yaml'));
    await writeFile(join(dir, 'invalid.json'), '{"id": "X", ');
    await writeFile(join(dir, 'bad-yaml.yaml'), 'id: PYSEC-1\nmodified: [unclosed\n');
    await writeFile(
      join(dir, 'wrong-types.json'),
      JSON.stringify({ id: 'GHSA-x', modified: 5, affected: 'none' }),
    );
    await writeFile(join(dir, 'binary.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    const kev = JSON.parse(await readText('kev/known_exploited_vulnerabilities.json')) as {
      vulnerabilities: Record<string, unknown>[];
    };
    kev.vulnerabilities = kev.vulnerabilities.slice(0, 3);
    kev.vulnerabilities[1] = { ...kev.vulnerabilities[1], dueDate: 42 };
    await writeFile(join(dir, 'kev.json'), JSON.stringify(kev));
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([dir], sink);
    expect(s?.error).toBeUndefined();
    expect([...sink.advisories.keys()]).toEqual(['PYSEC-2023-74']);
    expect(sink.enrichment.kev.size).toBe(2);
    const lines =
      s?.rejected.map((r) => `${r.source.slice(dir.length + 1)} ${r.recordId}: ${r.reason}`) ?? [];
    const expected = [
      /^bad-yaml\.yaml \(file\): invalid YAML at line 3 column 1: Flow sequence/,
      /^invalid\.json \(file\): invalid JSON at line 1 column 13: /,
      new RegExp(`^kev\\.json ${String(kev.vulnerabilities[1]?.['cveID'])}: invalid KEV entry: dueDate: `),
      /^wrong-types\.json GHSA-x: invalid OSV record: modified: .*; affected: /,
    ];
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => expect(line).toMatch(expected[i] ?? /^$/));
    expect(s?.skipped.map((x) => x.slice(dir.length + 1))).toEqual(['binary.bin']);
  });

  it('fails a single unrecognised file or a missing path, and still runs the next source', async () => {
    const path = join(work, 'notes.txt');
    await writeFile(path, 'hello');
    const sink = new MemoryFeedSink();
    const summaries = await syncFeeds(
      [path, join(work, 'missing.json'), fixture('nvd/CVE-2023-4911.fkie-cad.json')],
      sink,
    );
    expect(summaries[0]?.error).toMatch(/notes\.txt: not a feed format patchbot reads/);
    expect(summaries[1]?.error).toMatch(/no such file or directory: .*missing\.json/);
    expect(summaries[2]).toMatchObject({ new: 1, formats: ['nvd'] });
  });
});
