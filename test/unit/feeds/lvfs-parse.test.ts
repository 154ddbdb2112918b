/**
 * LVFS/AppStream firmware metadata -> advisories, on real metadata: a Dell Latitude 7390 2-in-1
 * UEFI capsule release with two CVEs (fwupd's own test log) and fwupd's `fwupd-tests` remote.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sniffBytes } from '../../../src/feeds/detect.js';
import { LvfsDocumentError, looksLikeLvfs, parseLvfsMetadata } from '../../../src/feeds/lvfs/parse.js';

const LVFS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/firmware/lvfs');
const read = (f: string): string => readFileSync(path.join(LVFS, f), 'utf8');
const AS_OF = new Date('2026-12-07T00:00:00Z');
const DELL = read('dell-latitude-7390-2in1.firmware.metainfo.xml');

/** The Dell metainfo with its release replaced (for cases the real file does not have). */
function dellWith(release: string): string {
  return DELL.replace(/<releases>[\s\S]*<\/releases>/, `<releases>${release}</releases>`);
}

describe('LVFS metadata', () => {
  it('turns the Dell release P1.1 into one advisory per release, matched by GUID with the dell-bios format', () => {
    const r = parseLvfsMetadata(DELL, 'dell.metainfo.xml', AS_OF);
    expect(r.rejections).toEqual([]);
    expect(r).toMatchObject({ components: 1, releases: 1 });
    expect(r.advisories).toEqual([
      {
        id: 'LVFS:com.dell.uefi6180aaaa.firmware:P1.1',
        source: 'lvfs',
        aliases: ['CVE-2019-14607', 'CVE-2019-11157'],
        cves: ['CVE-2019-14607', 'CVE-2019-11157'],
        published: new Date('2020-01-22T00:00:00Z'),
        modified: new Date('2020-01-22T00:00:00Z'),
        summary: 'Latitude 7390 2-in-1 firmware P1.1 fixes CVE-2019-14607, CVE-2019-11157',
        details: expect.stringContaining(
          '- Firmware updates to address the Intel Security Advisories.',
        ) as unknown,
        references: [],
        severity: [],
        affected: [
          {
            // `quad` then `dell-bios`: the last format fwupd knows wins, as in fwupd.
            ecosystem: 'fwupd:dell-bios',
            package: '6180aaaa-5529-4bbf-b4fd-65b4f788de5b',
            nameKind: 'binary',
            status: 'affected',
            ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: 'P1.1' }] }],
            versions: [],
            urgency: 'critical',
          },
        ],
      },
    ]);
    expect(r.advisories[0]?.details?.split('\n')[0]).toBe('This stable release fixes the following issues:');
  });

  it('reads the fwupd-tests remote: three components, releases without issues make no advisory', () => {
    const text = read('fwupd-tests.xml');
    expect(looksLikeLvfs(text)).toBe(true);
    expect(sniffBytes(Buffer.from(text))).toBe('xml');
    const r = parseLvfsMetadata(text, 'fwupd-tests.xml', AS_OF);
    expect(r).toMatchObject({ components: 3, advisories: [], rejections: [] });
    expect(r.releases).toBeGreaterThanOrEqual(4);
  });

  it('keeps non-CVE issues as aliases and references, dates from timestamps, no format -> "fwupd"', () => {
    const text = dellWith(`
      <release version="1.2.3" timestamp="1497499200" urgency="high">
        <issues>
          <issue type="cve">CVE-2022-34303</issue>
          <issue type="dell" url="https://www.dell.com/support/kbdoc/DSA-2022-001">DSA-2022-001</issue>
          <issue type="generic">309662</issue>
          <issue type="cve">CVE-2022-34303</issue>
          <issue type="cve">not-a-cve</issue>
        </issues>
        <url type="details">https://example.org/release-notes</url>
      </release>`).replace(/<custom>[\s\S]*<\/custom>/, '');
    const r = parseLvfsMetadata(text, 'f.xml', AS_OF);
    const a = r.advisories[0];
    expect(a?.cves).toEqual(['CVE-2022-34303']);
    expect(a?.aliases).toEqual(['CVE-2022-34303', 'DSA-2022-001', '309662']);
    expect(a?.references).toEqual([
      { type: 'ADVISORY', url: 'https://www.dell.com/support/kbdoc/DSA-2022-001' },
      { type: 'WEB', url: 'https://example.org/release-notes' },
    ]);
    expect(a?.published).toEqual(new Date(1497499200 * 1000));
    expect(a?.affected[0]).toMatchObject({ ecosystem: 'fwupd', urgency: 'high' });
    expect(r.rejections).toEqual([
      {
        source: 'f.xml',
        recordId: 'com.dell.uefi6180aaaa.firmware:1.2.3',
        reason: '<issue type="cve"> "not-a-cve" is not a CVE id; ignored',
      },
    ]);
  });

  it('rejects bad releases and components one by one and keeps the rest', () => {
    const good = `<release version="2.0" date="2021-01-01"><issues><issue type="cve">CVE-2021-0001</issue></issues></release>`;
    const text = dellWith(
      [
        good,
        `<release version="3 0" date="2021-02-01"><issues><issue type="cve">CVE-2021-0002</issue></issues></release>`,
        `<release date="2021-03-01"><issues><issue type="cve">CVE-2021-0003</issue></issues></release>`,
        `<release version="4.0"><description><p>${'x'.repeat(1024 * 1024 + 10)}</p></description><issues><issue type="cve">CVE-2021-0004</issue></issues></release>`,
      ].join(''),
    );
    const r = parseLvfsMetadata(text, 'f.xml', AS_OF);
    expect(r.advisories.map((a) => a.id)).toEqual(['LVFS:com.dell.uefi6180aaaa.firmware:2.0']);
    expect(r.rejections.map((x) => `${x.recordId} | ${x.reason}`)).toEqual([
      'com.dell.uefi6180aaaa.firmware:3 0 | release version "3 0" is not a version string',
      'com.dell.uefi6180aaaa.firmware | invalid release: @_version: Invalid input: expected string, received undefined',
      'com.dell.uefi6180aaaa.firmware:4.0 | invalid release: description: Too big: expected string to have <=1048576 characters',
    ]);

    const noGuid = parseLvfsMetadata(DELL.replace(/<provides>[\s\S]*<\/provides>/, ''), 'f.xml', AS_OF);
    expect(noGuid.advisories).toEqual([]);
    expect(noGuid.rejections[0]?.reason).toMatch(/flashes no GUID/);
    const badGuid = parseLvfsMetadata(
      DELL.replace('6180aaaa-5529-4bbf-b4fd-65b4f788de5b', '$(reboot)'),
      'f.xml',
      AS_OF,
    );
    expect(badGuid.rejections.map((x) => x.reason)).toEqual([
      '<provides><firmware type="flashed"> "$(reboot)" is not a GUID; ignored',
      'the component flashes no GUID (<provides><firmware type="flashed">): nothing to match',
    ]);
  });

  it('refuses documents with a DOCTYPE or ENTITY: no entity expansion, no external entities', () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><components><component type="firmware"><id>&lol2;</id></component></components>`;
    const xxe = `<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM "file:///etc/passwd">]><component type="firmware"><id>&x;</id></component>`;
    for (const text of [laughs, xxe]) {
      expect(() => parseLvfsMetadata(text, 'f.xml', AS_OF)).toThrow(LvfsDocumentError);
      expect(() => parseLvfsMetadata(text, 'f.xml', AS_OF)).toThrow(
        /DOCTYPE or ENTITY declaration is refused/,
      );
    }
  });

  it('names the line and column of malformed XML, and refuses XML of another kind', () => {
    const broken = DELL.replace('</releases>', '</release>');
    expect(() => parseLvfsMetadata(broken, 'f.xml', AS_OF)).toThrow(
      /^invalid XML at line 43 column 3: Expected closing tag .releases./,
    );
    expect(() => parseLvfsMetadata('<rss><channel/></rss>', 'f.xml', AS_OF)).toThrow(
      /not AppStream firmware metadata/,
    );
    expect(looksLikeLvfs('<rss/>')).toBe(false);
  });
});
