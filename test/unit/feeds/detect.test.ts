import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { detectDocument, sniffBytes } from '../../../src/feeds/detect.js';
import { parseYamlText } from '../../../src/feeds/document.js';
import { advisoryContentHash } from '../../../src/core/content-hash.js';
import { parseOsvRecord } from '../../../src/feeds/osv/parse.js';
import { buildZip } from '../../support/zip-writer.js';
import { fixturePath, readJsonFixture, readOsvFixture } from './helpers.js';

describe('detection by content', () => {
  it.each([
    ['osv/npm/GHSA-c2qf-rxjj-qqgw.json', 'osv'],
    ['osv/debian/osvdev_testdata_DLA-3623-1.json', 'osv'],
    ['debian-tracker/bookworm-dsa-sample.tracker.json', 'debian-tracker'],
    ['debian-tracker/vunnel_debian.json', 'debian-tracker'],
    ['kev/known_exploited_vulnerabilities.json', 'kev'],
    ['nvd/CVE-2023-4911.fkie-cad.json', 'nvd'],
  ])('%s is %s', (file, format) => {
    expect(sniffBytes(readFileSync(fixturePath(file)))).toBe('json');
    expect(detectDocument(readJsonFixture(file))).toBe(format);
  });

  it('detects an NVD API page, a list of OSV records, and nothing in other JSON', () => {
    expect(detectDocument({ resultsPerPage: 0, totalResults: 0, vulnerabilities: [] })).toBe('nvd');
    expect(detectDocument({ vulnerabilities: [{ cve: { id: 'CVE-2024-0001' } }] })).toBe('nvd');
    expect(detectDocument([readJsonFixture('osv/npm/GHSA-c2qf-rxjj-qqgw.json')])).toBe('osv-list');
    expect(detectDocument({ name: 'openssh', secfixes: {} })).toBeUndefined();
    expect(detectDocument([1, 2])).toBeUndefined();
    expect(detectDocument('x')).toBeUndefined();
  });

  it('sniffs EPSS, zip, gzip and YAML by their bytes', () => {
    expect(sniffBytes(readFileSync(fixturePath('epss/epss_scores-current_head.csv')))).toBe('epss');
    expect(sniffBytes(Buffer.from('cve,epss,percentile\r\nCVE-1999-0001,0.1,0.2\r\n'))).toBe('epss');
    expect(sniffBytes(buildZip([{ name: 'a.json', data: '{}' }]))).toBe('zip');
    expect(sniffBytes(gzipSync('cve,epss,percentile\n'))).toBe('gzip');
    const yaml = readFileSync(fixturePath('osv/pypi/PYSEC-2021-66.yaml'));
    expect(sniffBytes(yaml)).toBe('text');
    expect(detectDocument(parseYamlText(yaml.toString('utf8')))).toBe('osv');
  });
});

describe('advisoryContentHash', () => {
  const advisory = () => {
    const a = parseOsvRecord(readOsvFixture('osv/ubuntu/USN-6859-1.json'), 'x').advisory;
    if (a === undefined) throw new Error('fixture did not parse');
    return a;
  };
  it('ignores key order and a re-stamped modified date', () => {
    const a = advisory();
    const b = { ...advisory(), modified: new Date('2030-01-01T00:00:00Z') };
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as typeof a;
    expect(advisoryContentHash(b)).toBe(advisoryContentHash(a));
    expect(advisoryContentHash(reordered)).toBe(advisoryContentHash(a));
  });
  it.each([
    [
      'a fixed version',
      (a: ReturnType<typeof advisory>) => {
        a.affected[0].ranges[0].events[1] = { fixed: '1:8.9p1-3ubuntu0.11' };
      },
    ],
    [
      'withdrawal',
      (a: ReturnType<typeof advisory>) => {
        a.withdrawn = new Date('2025-01-01T00:00:00Z');
      },
    ],
    [
      'an alias',
      (a: ReturnType<typeof advisory>) => {
        a.aliases.push('CVE-2024-6387');
      },
    ],
    [
      'a status',
      (a: ReturnType<typeof advisory>) => {
        a.affected[0].status = 'not-affected';
      },
    ],
  ])('changes with %s', (_name, mutate) => {
    const a = advisory();
    const before = advisoryContentHash(a);
    mutate(a);
    expect(advisoryContentHash(a)).not.toBe(before);
  });
});
