/**
 * `syncFeeds` over LVFS/AppStream firmware metadata: the real Dell metainfo and fwupd-tests remote,
 * plain, gzip'd and zstd'd (as LVFS serves firmware.xml.gz / .xml.zst), from files, a directory
 * and an http URL with conditional requests; and hostile input: malformed XML, entity expansion
 * and external entities, a zstd bomb, truncated zstd, a file over the document limit.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncFeeds } from '../../../src/feeds/sync.js';
import { MemoryFeedSink } from '../../support/memory-feed-sink.js';

const LVFS = join(import.meta.dirname, '../../fixtures/firmware/lvfs');
const DELL_ID = 'LVFS:com.dell.uefi6180aaaa.firmware:P1.1';
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'patchbot-lvfs-test-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('syncFeeds over LVFS metadata', () => {
  it('imports the Dell metainfo: one advisory, and a second run changes nothing', async () => {
    const sink = new MemoryFeedSink();
    const file = join(LVFS, 'dell-latitude-7390-2in1.firmware.metainfo.xml');
    const [s] = await syncFeeds([file], sink);
    expect(s).toMatchObject({ formats: ['lvfs'], read: 1, new: 1, rejectedCount: 0 });
    expect(s?.error).toBeUndefined();
    expect(sink.advisories.get(DELL_ID)?.advisory).toMatchObject({
      source: 'lvfs',
      cves: ['CVE-2019-14607', 'CVE-2019-11157'],
      affected: [{ ecosystem: 'fwupd:dell-bios', package: '6180aaaa-5529-4bbf-b4fd-65b4f788de5b' }],
    });
    const [again] = await syncFeeds([file], sink);
    expect(again).toMatchObject({ new: 0, changed: 0, unchanged: 1 });
  });

  it('reads firmware.xml as LVFS serves it: plain, .gz and .zst give the same releases', async () => {
    const summaries = [];
    for (const name of ['fwupd-tests.xml', 'fwupd-tests.xml.gz', 'fwupd-tests.xml.zst']) {
      const sink = new MemoryFeedSink();
      const [s] = await syncFeeds([join(LVFS, name)], sink);
      expect({ name, error: s?.error, rejected: s?.rejected }).toEqual({
        name,
        error: undefined,
        rejected: [],
      });
      summaries.push({ read: s?.read, new: s?.new, formats: s?.formats });
    }
    expect(summaries[0]).toEqual({ read: 4, new: 0, formats: ['lvfs'] });
    expect(summaries[1]).toEqual(summaries[0]);
    expect(summaries[2]).toEqual(summaries[0]);
  });

  it('finds metadata in a directory next to other feeds, and skips XML of another kind', async () => {
    const dir = join(work, 'mixed');
    await mkdir(dir, { recursive: true });
    await copyFile(join(LVFS, 'dell-latitude-7390-2in1.firmware.metainfo.xml'), join(dir, 'dell.xml'));
    await copyFile(join(LVFS, 'fwupd-tests.xml.zst'), join(dir, 'firmware.xml.zst'));
    await writeFile(join(dir, 'feed.rss'), '<?xml version="1.0"?><rss><channel/></rss>');
    const sink = new MemoryFeedSink();
    const [s] = await syncFeeds([dir], sink);
    expect(s?.error).toBeUndefined();
    expect([...sink.advisories.keys()]).toEqual([DELL_ID]);
    expect(s?.skipped).toEqual([`${dir}/feed.rss`]);
    expect(s?.read).toBe(5);
  });

  it('downloads firmware.xml.zst over http, then asks again with its ETag', async () => {
    const zst = await readFile(join(LVFS, 'fwupd-tests.xml.zst'));
    const seen: (string | undefined)[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(req.headers['if-none-match']);
      if (req.headers['if-none-match'] === '"lvfs-1"') {
        res.writeHead(304).end();
        return;
      }
      res.writeHead(200, { etag: '"lvfs-1"', 'content-type': 'application/zstd' }).end(zst);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/downloads/firmware.xml.zst`;
      const sink = new MemoryFeedSink();
      const [first] = await syncFeeds([url], sink, { tmpDir: work });
      expect(first).toMatchObject({ read: 4, formats: ['lvfs'], notModified: false });
      expect(first?.error).toBeUndefined();
      const [second] = await syncFeeds([url], sink, { tmpDir: work });
      expect(second).toMatchObject({ read: 0, notModified: true });
      expect(seen).toEqual([undefined, '"lvfs-1"']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('hostile LVFS input', () => {
  it('fails a malformed file with the line and column, keeps what other sources stored', async () => {
    const sink = new MemoryFeedSink();
    const dell = join(LVFS, 'dell-latitude-7390-2in1.firmware.metainfo.xml');
    const broken = join(work, 'broken.xml');
    await writeFile(broken, (await readFile(dell, 'utf8')).replace('</releases>', '</release>'));
    const [ok, bad] = await syncFeeds([dell, broken], sink);
    expect(ok?.new).toBe(1);
    expect(bad?.error).toBe(
      `${broken}: invalid XML at line 43 column 3: Expected closing tag 'releases' (opened in line 24, col 3) instead of closing tag 'release'.`,
    );
    expect(sink.advisories.has(DELL_ID)).toBe(true);
  });

  it('refuses entity expansion (billion laughs) and external entities (XXE) without reading them', async () => {
    const laughs = join(work, 'laughs.xml');
    const entities = Array.from({ length: 10 }, (_, i) =>
      i === 0 ? '<!ENTITY l0 "lol">' : `<!ENTITY l${i} "${`&l${i - 1};`.repeat(10)}">`,
    ).join('');
    await writeFile(
      laughs,
      `<?xml version="1.0"?><!DOCTYPE components [${entities}]><components><component type="firmware"><id>&l9;</id></component></components>`,
    );
    const xxe = join(work, 'xxe.xml');
    await writeFile(
      xxe,
      `<?xml version="1.0"?><!DOCTYPE component [<!ENTITY x SYSTEM "file:///etc/passwd">]><component type="firmware"><id>&x;</id></component>`,
    );
    const sink = new MemoryFeedSink();
    const summaries = await syncFeeds([laughs, xxe], sink);
    for (const s of summaries) {
      expect(s.error).toMatch(/XML with a DOCTYPE or ENTITY declaration is refused/);
      expect(s.read).toBe(0);
    }
    expect(sink.advisories.size).toBe(0);
  });

  it('stops a zstd bomb at the document limit, and names truncated zstd data', async () => {
    const sink = new MemoryFeedSink();
    const bomb = join(LVFS, 'zeros-16MiB.zst');
    const [s] = await syncFeeds([bomb], sink, { limits: { maxDocumentBytes: 1024 * 1024 } });
    expect(s?.error).toBe(`${bomb}: zstd data inflates past the 1048576-byte limit`);
    const cut = join(work, 'cut.xml.zst');
    const zst = await readFile(join(LVFS, 'fwupd-tests.xml.zst'));
    await writeFile(cut, zst.subarray(0, Math.floor(zst.length / 2)));
    const [t] = await syncFeeds([cut], sink);
    expect(t?.error).toMatch(
      new RegExp(
        `^${cut.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (zstd data is truncated or corrupt|invalid XML)`,
      ),
    );
  });

  it('refuses a plain file over the document limit before reading it', async () => {
    const sink = new MemoryFeedSink();
    const file = join(LVFS, 'fwupd-tests.xml');
    const [s] = await syncFeeds([file], sink, { limits: { maxDocumentBytes: 1000 } });
    expect(s?.error).toMatch(/bytes is over the 1000-byte limit$/);
  });
});
