import { describe, expect, it } from 'vitest';
import { parseNvdDocument, severityOf } from '../../../src/feeds/nvd/parse.js';
import { readJsonFixture } from './helpers.js';

const metric = (
  version: string,
  vectorString: string,
  baseScore: number,
  type = 'Primary',
  baseSeverity?: string,
) => ({
  source: 'nvd@nist.gov',
  type,
  cvssData: { version, vectorString, baseScore, ...(baseSeverity === undefined ? {} : { baseSeverity }) },
});

describe('NVD CVE API 2.0', () => {
  it('reads the real CVE-2023-4911 object (CVSS 3.1, secondary source)', () => {
    const raw = readJsonFixture('nvd/CVE-2023-4911.fkie-cad.json') as {
      metrics: { cvssMetricV31: { source: string; cvssData: { vectorString: string; baseScore: number } }[] };
    };
    const { items, rejections, page } = parseNvdDocument(raw, 'cve.json');
    expect(rejections).toEqual([]);
    expect(page).toBeUndefined();
    const m = raw.metrics.cvssMetricV31[0];
    expect(items).toEqual([
      {
        cve: 'CVE-2023-4911',
        rejected: false,
        lastModified: '2023-10-03T23:55:59.983',
        cvss: [
          {
            version: '3.1',
            vector: m?.cvssData.vectorString,
            baseScore: m?.cvssData.baseScore,
            severity: 'HIGH',
            source: m?.source,
            primary: false,
          },
        ],
      },
    ]);
  });

  it('reads an API page with v4.0, v3.1, v3.0 and v2 metrics, primary first, and a rejected CVE', () => {
    const doc = {
      resultsPerPage: 2,
      startIndex: 0,
      totalResults: 2,
      format: 'NVD_CVE',
      vulnerabilities: [
        {
          cve: {
            id: 'CVE-2024-0001',
            vulnStatus: 'Analyzed',
            metrics: {
              cvssMetricV40: [
                metric(
                  '4.0',
                  'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
                  9.3,
                  'Secondary',
                  'CRITICAL',
                ),
              ],
              cvssMetricV31: [
                metric('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'Primary', 'CRITICAL'),
              ],
              cvssMetricV30: [metric('3.0', 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P', 9.8)],
              cvssMetricV2: [{ ...metric('2.0', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', 7.5), baseSeverity: 'HIGH' }],
            },
          },
        },
        { cve: { id: 'CVE-2024-0002', vulnStatus: 'Rejected', metrics: {} } },
      ],
    };
    const { items, rejections, page } = parseNvdDocument(doc, 'page.json');
    expect(rejections).toEqual([]);
    expect(page).toEqual({ startIndex: 0, resultsPerPage: 2, totalResults: 2 });
    expect(items[0]?.cvss.map((c) => `${c.version} ${c.severity} ${c.primary}`)).toEqual([
      '3.1 CRITICAL true',
      '3.0 CRITICAL true',
      '2.0 HIGH true',
      '4.0 CRITICAL false',
    ]);
    expect(items[1]).toEqual({ cve: 'CVE-2024-0002', cvss: [], rejected: true, lastModified: undefined });
  });

  it.each([
    [metric('3.1', 'CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8), /invalid CVSS 3.1 vector/],
    [metric('3.1', 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8), /invalid CVSS 3.1 vector/],
    [metric('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 11), /base score 11 is not a CVSS score/],
    [metric('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.85), /base score 9.85/],
    [
      metric('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8, 'Primary', 'LOW'),
      /base severity LOW does not match/,
    ],
    [
      metric('2.0', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8),
      /version "2.0" does not belong here/,
    ],
    [{ ...metric('3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8), type: 'Tertiary' }, /type/],
    [metric('3.1', 'C'.repeat(100_000), 9.8), /vectorString: Too big/],
  ])('drops a bad metric and keeps the good one (%#)', (bad, reason) => {
    const good = metric('3.1', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 7.8);
    const { items, rejections } = parseNvdDocument(
      { id: 'CVE-2024-0003', metrics: { cvssMetricV31: [bad, good] } },
      'x.json',
    );
    expect(items[0]?.cvss).toHaveLength(1);
    expect(items[0]?.cvss[0]?.baseScore).toBe(7.8);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ source: 'x.json', recordId: 'CVE-2024-0003' });
    expect(rejections[0]?.reason).toMatch(/^cvssMetricV31\[0\]: /);
    expect(rejections[0]?.reason).toMatch(reason);
  });

  it('rejects a malformed cve in a page and keeps the rest', () => {
    const { items, rejections } = parseNvdDocument(
      { vulnerabilities: [{ cve: { id: 'nope' } }, { cve: { id: 'CVE-2024-0004' } }], totalResults: 2 },
      'p.json',
    );
    expect(items.map((i) => i.cve)).toEqual(['CVE-2024-0004']);
    expect(rejections[0]).toMatchObject({ recordId: 'nope' });
  });

  it.each([
    ['2.0', 3.9, 'LOW'],
    ['2.0', 7, 'HIGH'],
    ['3.1', 0, 'NONE'],
    ['3.1', 6.9, 'MEDIUM'],
    ['3.1', 9, 'CRITICAL'],
    ['4.0', 8.9, 'HIGH'],
  ] as const)('severityOf(%s, %s) = %s', (v, s, sev) => {
    expect(severityOf(v, s)).toBe(sev);
  });
});
