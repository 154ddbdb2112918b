/**
 * Reads the real records in test/fixtures/risk/ (provenance in its README.md) into the domain
 * types risk scoring takes. Deliberately small: the feed parsers in src/feeds are tested on their own.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import type { CvssScore, EpssScore, KevEntry } from '../../../src/core/model.js';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/risk/', import.meta.url));

export function fixtureText(name: string): string {
  return readFileSync(`${FIXTURES}${name}`, 'utf8');
}

/** Rows of a CSV file without quoted fields (the SSVC and EPSS files here have none), header first. */
export function csvRows(name: string): string[][] {
  return fixtureText(name)
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(','));
}

interface NvdMetric {
  source: string;
  type: 'Primary' | 'Secondary';
  cvssData: { version: string; vectorString: string; baseScore: number; baseSeverity: string };
}

/** CVSS scores of an NVD CVE API 2.0 `cve` object (v3.1, v3.0, v4.0). */
export function nvdCvss(name: string): { cve: string; scores: CvssScore[] } {
  const doc = JSON.parse(fixtureText(name)) as { id: string; metrics: Record<string, NvdMetric[]> };
  const scores: CvssScore[] = [];
  for (const key of ['cvssMetricV40', 'cvssMetricV31', 'cvssMetricV30']) {
    for (const m of doc.metrics[key] ?? []) {
      scores.push({
        version: m.cvssData.version as CvssScore['version'],
        vector: m.cvssData.vectorString,
        baseScore: m.cvssData.baseScore,
        severity: m.cvssData.baseSeverity as CvssScore['severity'],
        source: m.source,
        primary: m.type === 'Primary',
      });
    }
  }
  return { cve: doc.id, scores };
}

export function kevEntries(): Map<string, KevEntry> {
  const doc = JSON.parse(fixtureText('kev-selected.json')) as {
    vulnerabilities: {
      cveID: string;
      dateAdded: string;
      dueDate: string;
      knownRansomwareCampaignUse: string;
      vendorProject: string;
      product: string;
      vulnerabilityName: string;
      requiredAction: string;
    }[];
  };
  return new Map(
    doc.vulnerabilities.map((v) => [
      v.cveID,
      {
        dateAdded: v.dateAdded,
        dueDate: v.dueDate,
        knownRansomware: v.knownRansomwareCampaignUse === 'Known',
        vendor: v.vendorProject,
        product: v.product,
        name: v.vulnerabilityName,
        requiredAction: v.requiredAction,
      },
    ]),
  );
}

export function epssScores(): Map<string, EpssScore> {
  const [header, ...rows] = csvRows('epss_latest_selected.csv');
  const col = (n: string): number => header.indexOf(n);
  return new Map(
    rows.map((r) => [
      r[col('cve')],
      { score: Number(r[col('epss')]), percentile: Number(r[col('percentile')]), date: r[col('date')] },
    ]),
  );
}
