/** CISA KEV catalog -> one KevItem per CVE. Pure. */
import type { KevEntry } from '../../core/model.js';
import { describeZodError, recordIdOf, type FeedRejection } from '../rejection.js';
import type { KevItem } from '../../core/feed-sink.js';
import { KevCatalog, KevVulnerability } from './schema.js';

export interface KevParseResult {
  catalogVersion?: string;
  /** When CISA released this catalog: its `dateReleased`, else the date its `catalogVersion` names. */
  released?: Date;
  items: KevItem[];
  rejections: FeedRejection[];
}

export function parseKevCatalog(raw: unknown, source: string): KevParseResult {
  const catalog = KevCatalog.safeParse(raw);
  if (!catalog.success) {
    return {
      items: [],
      rejections: [
        { source, recordId: '(catalog)', reason: `not a KEV catalog: ${describeZodError(catalog.error)}` },
      ],
    };
  }
  const items: KevItem[] = [];
  const rejections: FeedRejection[] = [];
  const seen = new Set<string>();
  catalog.data.vulnerabilities.forEach((value, index) => {
    const recordId = recordIdOf(value, 'cveID', `vulnerabilities[${index}]`);
    const parsed = KevVulnerability.safeParse(value);
    if (!parsed.success) {
      rejections.push({ source, recordId, reason: `invalid KEV entry: ${describeZodError(parsed.error)}` });
      return;
    }
    const v = parsed.data;
    if (seen.has(v.cveID)) {
      rejections.push({ source, recordId, reason: 'listed twice in the catalog; the first entry is kept' });
      return;
    }
    seen.add(v.cveID);
    items.push({ cve: v.cveID, kev: toKevEntry(v) });
  });
  const released = releaseDate(catalog.data.dateReleased, catalog.data.catalogVersion);
  return {
    catalogVersion: catalog.data.catalogVersion,
    ...(released === undefined ? {} : { released }),
    items,
    rejections,
  };
}

/** `dateReleased` ("2025-08-25T17:04:19.9796Z"), else `catalogVersion` ("2025.08.25") at 00:00 UTC. */
function releaseDate(dateReleased: string | undefined, version: string): Date | undefined {
  const d = dateReleased === undefined ? NaN : Date.parse(dateReleased);
  if (!Number.isNaN(d)) return new Date(d);
  const m = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(version);
  if (!m) return undefined;
  const v = Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
  return Number.isNaN(v) ? undefined : new Date(v);
}

function toKevEntry(v: KevVulnerability): KevEntry {
  return {
    dateAdded: v.dateAdded,
    dueDate: v.dueDate,
    knownRansomware: v.knownRansomwareCampaignUse === 'Known',
    vendor: v.vendorProject,
    product: v.product,
    name: v.vulnerabilityName,
    requiredAction: v.requiredAction,
  };
}
