/**
 * NVD CVE API 2.0 JSON -> NvdItem (CVSS scores per CVE, and whether NVD rejected the CVE). Pure.
 * Accepts an API response page (`{ vulnerabilities: [{ cve }], totalResults, ... }`) or one bare
 * `cve` object. Each metric is checked on its own: a bad vector or score drops that metric with a
 * rejection and keeps the CVE's other scores.
 */
import type { CvssScore } from '../../core/model.js';
import { describeZodError, recordIdOf, type FeedRejection } from '../rejection.js';
import type { NvdItem } from '../../core/feed-sink.js';
import { NvdCve, NvdMetric, NvdResponse } from './schema.js';

export interface NvdPage {
  startIndex: number;
  resultsPerPage: number;
  totalResults: number;
}

export interface NvdParseResult {
  items: NvdItem[];
  rejections: FeedRejection[];
  /** Paging of an API response; undefined for a bare cve object. */
  page?: NvdPage;
}

const METRIC_KEYS: Readonly<Record<string, CvssScore['version'][]>> = {
  cvssMetricV40: ['4.0'],
  cvssMetricV31: ['3.1'],
  cvssMetricV30: ['3.0'],
  cvssMetricV2: ['2.0'],
};

const OPTIONAL_METRICS = '(?:/[A-Za-z]{1,3}:[A-Za-z]{1,2})*';
const VECTOR: Readonly<Record<CvssScore['version'], RegExp>> = {
  '2.0':
    /^\(?AV:[LAN]\/AC:[HML]\/Au:[MSN]\/C:[NPC]\/I:[NPC]\/A:[NPC](?:\/E:(?:U|POC|F|H|ND)\/RL:(?:OF|TF|W|U|ND)\/RC:(?:UC|UR|C|ND))?\)?$/,
  '3.0': new RegExp(
    `^CVSS:3\\.0/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]${OPTIONAL_METRICS}$`,
  ),
  '3.1': new RegExp(
    `^CVSS:3\\.1/AV:[NALP]/AC:[LH]/PR:[NLH]/UI:[NR]/S:[UC]/C:[NLH]/I:[NLH]/A:[NLH]${OPTIONAL_METRICS}$`,
  ),
  '4.0': new RegExp(
    `^CVSS:4\\.0/AV:[NALP]/AC:[LH]/AT:[NP]/PR:[NLH]/UI:[NPA]/VC:[HLN]/VI:[HLN]/VA:[HLN]/SC:[HLN]/SI:[HLN]/SA:[HLN]${OPTIONAL_METRICS}$`,
  ),
};

export function parseNvdDocument(raw: unknown, source: string): NvdParseResult {
  const response = NvdResponse.safeParse(raw);
  if (response.success) {
    const items: NvdItem[] = [];
    const rejections: FeedRejection[] = [];
    response.data.vulnerabilities.forEach((v, index) => {
      const one = parseNvdCve(v.cve, source, `vulnerabilities[${index}]`);
      if (one.item !== undefined) items.push(one.item);
      rejections.push(...one.rejections);
    });
    const d = response.data;
    return {
      items,
      rejections,
      page: {
        startIndex: d.startIndex ?? 0,
        resultsPerPage: d.resultsPerPage ?? d.vulnerabilities.length,
        totalResults: d.totalResults ?? d.vulnerabilities.length,
      },
    };
  }
  const one = parseNvdCve(raw, source, '(document)');
  return { items: one.item === undefined ? [] : [one.item], rejections: one.rejections };
}

export function parseNvdCve(
  raw: unknown,
  source: string,
  position: string,
): { item?: NvdItem; rejections: FeedRejection[] } {
  const parsed = NvdCve.safeParse(raw);
  const recordId = recordIdOf(raw, 'id', position);
  if (!parsed.success) {
    return {
      rejections: [{ source, recordId, reason: `invalid NVD cve object: ${describeZodError(parsed.error)}` }],
    };
  }
  const cve = parsed.data;
  const rejections: FeedRejection[] = [];
  const cvss: CvssScore[] = [];
  for (const [key, metrics] of Object.entries(cve.metrics ?? {})) {
    const versions = METRIC_KEYS[key];
    if (versions === undefined) continue; // other metric families (e.g. a future cvssMetricV5) are not scores we use
    metrics.forEach((value, index) => {
      const score = toCvssScore(value, versions);
      if (typeof score === 'string')
        rejections.push({ source, recordId: cve.id, reason: `${key}[${index}]: ${score}` });
      else cvss.push(score);
    });
  }
  cvss.sort((a, b) => Number(b.primary ?? false) - Number(a.primary ?? false));
  return {
    item: { cve: cve.id, cvss, rejected: cve.vulnStatus === 'Rejected', lastModified: cve.lastModified },
    rejections,
  };
}

function toCvssScore(value: unknown, versions: readonly CvssScore['version'][]): CvssScore | string {
  const parsed = NvdMetric.safeParse(value);
  if (!parsed.success) return describeZodError(parsed.error);
  const m = parsed.data;
  const version = versions.find((v) => v === m.cvssData.version);
  if (version === undefined)
    return `cvssData.version ${JSON.stringify(m.cvssData.version)} does not belong here`;
  const vector = m.cvssData.vectorString;
  if (!VECTOR[version].test(vector))
    return `invalid CVSS ${version} vector ${JSON.stringify(vector.slice(0, 120))}`;
  const baseScore = m.cvssData.baseScore;
  if (
    !Number.isFinite(baseScore) ||
    baseScore < 0 ||
    baseScore > 10 ||
    Math.round(baseScore * 10) !== baseScore * 10
  ) {
    return `base score ${baseScore} is not a CVSS score (0.0-10.0, one decimal)`;
  }
  const stated = (m.cvssData.baseSeverity ?? m.baseSeverity)?.toUpperCase();
  const expected = severityOf(version, baseScore);
  if (stated !== undefined && stated !== expected) {
    return `base severity ${stated} does not match base score ${baseScore} (CVSS ${version}: ${expected})`;
  }
  return { version, vector, baseScore, severity: expected, source: m.source, primary: m.type === 'Primary' };
}

/** Qualitative severity of a base score (CVSS v2: NVD's LOW/MEDIUM/HIGH bands; v3/v4: the spec's). */
export function severityOf(version: CvssScore['version'], score: number): CvssScore['severity'] {
  if (version === '2.0') return score < 4 ? 'LOW' : score < 7 ? 'MEDIUM' : 'HIGH';
  if (score === 0) return 'NONE';
  if (score < 4) return 'LOW';
  if (score < 7) return 'MEDIUM';
  if (score < 9) return 'HIGH';
  return 'CRITICAL';
}
