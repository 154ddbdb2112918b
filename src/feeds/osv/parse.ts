/**
 * OSV record -> Advisory. Pure: the caller reads the bytes (src/feeds/osv/read.ts).
 * A record that breaks the schema is rejected whole; an affected entry in an ecosystem patchbot
 * does not match is skipped with a rejection naming it, and the rest of the record is kept.
 */
import type { AffectedEntry, AffectedRange, Advisory, RangeEvent, SeverityVector } from '../../core/model.js';
import { checkAdvisory } from '../advisory-schema.js';
import { cvesOf, PACKAGE_NAME_PATTERN } from '../patterns.js';
import { describeZodError, recordIdOf, type FeedRejection } from '../rejection.js';
import { lookupEcosystem } from './ecosystems.js';
import { DebianUrgency, OsvRecord, UbuntuBinaries, type OsvAffected, type OsvEvent } from './schema.js';

export interface OsvParseResult {
  advisory?: Advisory;
  rejections: FeedRejection[];
}

/** Ecosystems whose advisories carry Red Hat's severity in their summary. */
const RED_HAT_FAMILY = /^(Red Hat|Rocky Linux|AlmaLinux):/;

export function parseOsvRecord(raw: unknown, source: string): OsvParseResult {
  const parsed = OsvRecord.safeParse(raw);
  const recordId = recordIdOf(raw);
  if (!parsed.success) {
    return {
      rejections: [{ source, recordId, reason: `invalid OSV record: ${describeZodError(parsed.error)}` }],
    };
  }
  const rec = parsed.data;
  const rejections: FeedRejection[] = [];
  const affected: AffectedEntry[] = [];
  const severity: SeverityVector[] = (rec.severity ?? []).map((s) => ({ type: s.type, score: s.score }));

  (rec.affected ?? []).forEach((entry, index) => {
    const converted = convertAffected(entry);
    if ('reason' in converted) {
      rejections.push({ source, recordId: rec.id, reason: `affected[${index}]: ${converted.reason}` });
      return;
    }
    affected.push(converted.entry);
    for (const s of entry.severity ?? []) {
      if (!severity.some((x) => x.type === s.type && x.score === s.score))
        severity.push({ type: s.type, score: s.score });
    }
  });

  // Red Hat (and its rebuilds) put their severity in front of the summary: "Important: openssl
  // security update". It is the distribution's own severity of every package the record fixes.
  const vendorSeverity = /^(Low|Moderate|Important|Critical):\s/.exec(rec.summary ?? '')?.[1];
  if (vendorSeverity !== undefined) {
    for (const entry of affected) {
      if (entry.urgency === undefined && RED_HAT_FAMILY.test(entry.ecosystem))
        entry.urgency = vendorSeverity.toLowerCase();
    }
  }

  const aliases = dedupe(rec.aliases ?? []);
  const advisory: Advisory = {
    id: rec.id,
    source: 'osv',
    aliases,
    cves: cvesOf([rec.id, ...aliases, ...(rec.upstream ?? [])]),
    published: rec.published === undefined ? undefined : new Date(rec.published),
    modified: new Date(rec.modified),
    withdrawn: rec.withdrawn === undefined ? undefined : new Date(rec.withdrawn),
    summary: rec.summary ?? summaryFrom(rec.details, rec.id),
    details: rec.details,
    references: (rec.references ?? []).map((r) => ({ type: r.type, url: r.url })),
    severity,
    affected,
  };
  const invalid = checkAdvisory(advisory);
  if (invalid !== undefined) {
    return { rejections: [...rejections, { source, recordId: rec.id, reason: describeZodError(invalid) }] };
  }
  return { advisory, rejections };
}

function convertAffected(entry: OsvAffected): { entry: AffectedEntry } | { reason: string } {
  if (entry.package === undefined) return { reason: 'no package (only git ranges), skipped' };
  const { ecosystem, name } = entry.package;
  const eco = lookupEcosystem(ecosystem);
  if (!eco.ok) {
    return {
      reason:
        eco.reason === 'unsupported'
          ? `unsupported ecosystem ${JSON.stringify(ecosystem)}, skipped`
          : `malformed ${eco.base} ecosystem string ${JSON.stringify(ecosystem)}, skipped`,
    };
  }
  if (!PACKAGE_NAME_PATTERN.test(name))
    return { reason: `package name ${JSON.stringify(printable(name))} is not valid, skipped` };
  const ranges: AffectedRange[] = (entry.ranges ?? []).map((r) => ({
    type: r.type,
    events: r.events.map(toEvent),
  }));
  const out: AffectedEntry = {
    ecosystem,
    package: name,
    nameKind: eco.info.nameKind,
    status: 'affected',
    ranges,
    versions: dedupe(entry.versions ?? []),
  };

  const binaries = entry.ecosystem_specific?.['binaries'];
  if (binaries !== undefined) {
    const parsed = UbuntuBinaries.safeParse(binaries);
    if (!parsed.success) return { reason: `ecosystem_specific.binaries: ${describeZodError(parsed.error)}` };
    out.binaries = dedupe(parsed.data.map((b) => b.binary_name));
  }
  const urgency = entry.ecosystem_specific?.['urgency'] ?? entry.database_specific?.['urgency'];
  if (urgency !== undefined) {
    const parsed = DebianUrgency.safeParse(urgency);
    if (parsed.success) out.urgency = parsed.data;
  }
  return { entry: out };
}

function toEvent(e: OsvEvent): RangeEvent {
  if ('introduced' in e) return { introduced: e.introduced };
  if ('fixed' in e) return { fixed: e.fixed };
  if ('last_affected' in e) return { last_affected: e.last_affected };
  return { limit: e.limit };
}

function summaryFrom(details: string | undefined, id: string): string {
  const firstLine = details
    ?.split('\n')
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (firstLine === undefined) return id;
  return firstLine.length <= 200 ? firstLine : `${firstLine.slice(0, 199)}…`;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= 80 ? clean : `${clean.slice(0, 80)}…`;
}
