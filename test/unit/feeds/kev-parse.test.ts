import { describe, expect, it } from 'vitest';
import { parseKevCatalog } from '../../../src/feeds/kev/parse.js';
import { readJsonFixture } from './helpers.js';

type RawKev = { count: number; catalogVersion: string; vulnerabilities: Record<string, string>[] };

describe('parseKevCatalog on the real catalog', () => {
  const raw = readJsonFixture('kev/known_exploited_vulnerabilities.json') as RawKev;
  const { items, rejections, catalogVersion } = parseKevCatalog(raw, 'kev.json');

  it('reads all 1,404 entries the catalog counts', () => {
    expect(rejections).toEqual([]);
    expect(catalogVersion).toBe('2025.08.25');
    expect(items).toHaveLength(raw.count);
  });

  it('maps every field from the raw entry', () => {
    const byCve = new Map(items.map((i) => [i.cve, i.kev]));
    for (const v of raw.vulnerabilities) {
      expect(byCve.get(v['cveID'] ?? '')).toEqual({
        dateAdded: v['dateAdded'],
        dueDate: v['dueDate'],
        knownRansomware: v['knownRansomwareCampaignUse'] === 'Known',
        vendor: v['vendorProject'],
        product: v['product'],
        name: v['vulnerabilityName'],
        requiredAction: v['requiredAction'],
      });
    }
    const known = raw.vulnerabilities.filter((v) => v['knownRansomwareCampaignUse'] === 'Known').length;
    expect(known).toBeGreaterThan(0);
    expect(items.filter((i) => i.kev.knownRansomware)).toHaveLength(known);
  });
});

describe('hostile KEV input', () => {
  const good = {
    cveID: 'CVE-2023-4911',
    vendorProject: 'GNU',
    product: 'glibc',
    vulnerabilityName: 'Looney Tunables',
    dateAdded: '2023-11-21',
    shortDescription: 'x',
    requiredAction: 'patch',
    dueDate: '2023-12-12',
    knownRansomwareCampaignUse: 'Unknown',
  };
  it.each([
    [{ ...good, cveID: 'CVE-23-1' }, 'CVE-23-1', /cveID: not a CVE id/],
    [{ ...good, dueDate: '12/12/2023' }, 'CVE-2023-4911', /dueDate: not a date/],
    [{ ...good, dueDate: '2023-02-31' }, 'CVE-2023-4911', /dueDate/],
    [{ ...good, product: 7 }, 'CVE-2023-4911', /product/],
    [
      { ...good, shortDescription: 'y'.repeat(10 * 1024 * 1024) },
      'CVE-2023-4911',
      /shortDescription: Too big/,
    ],
    [null, 'vulnerabilities[1]', /invalid KEV entry/],
  ])('rejects a bad entry and keeps the good one (%#)', (bad, recordId, reason) => {
    const { items, rejections } = parseKevCatalog(
      { catalogVersion: '1', vulnerabilities: [{ ...good, cveID: 'CVE-2024-3094' }, bad] },
      'kev.json',
    );
    expect(items.map((i) => i.cve)).toEqual(['CVE-2024-3094']);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ source: 'kev.json', recordId });
    expect(rejections[0]?.reason).toMatch(reason);
  });

  it('rejects a document that is no catalog', () => {
    const { items, rejections } = parseKevCatalog({ vulnerabilities: 'no' }, 'kev.json');
    expect(items).toEqual([]);
    expect(rejections[0]?.reason).toMatch(/^not a KEV catalog: /);
  });

  it('keeps the first of a duplicated CVE', () => {
    const { items, rejections } = parseKevCatalog(
      { catalogVersion: '1', vulnerabilities: [good, { ...good, product: 'other' }] },
      'k',
    );
    expect(items).toHaveLength(1);
    expect(items[0]?.kev.product).toBe('glibc');
    expect(rejections[0]?.reason).toMatch(/listed twice/);
  });
});
