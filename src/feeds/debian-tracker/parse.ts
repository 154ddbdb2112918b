/**
 * Debian security tracker JSON -> one Advisory per issue ("DEBIAN-CVE-2023-4911"), with one
 * affected entry per (source package, release). Pure; the dump carries no dates, so the caller
 * passes `asOf` (the download's Last-Modified or the file's mtime) as `modified`.
 *
 * Per release:
 * - resolved, fixed_version "0"         -> not-affected (the release never had the flaw)
 * - resolved, fixed_version V           -> affected, range introduced 0 / fixed V
 * - resolved without fixed_version      -> omitted (no statement to match on)
 * - open with nodsa, nodsa_reason ""    -> no-dsa   (minor issue, fixed in a point release if ever)
 * - open with nodsa_reason "ignored"    -> ignored
 * - open with nodsa_reason "postponed"  -> postponed
 * - open otherwise                      -> unfixed  (affected, no fix yet)
 * - undetermined                        -> omitted: the tracker has not decided whether the release
 *                                          is affected, and a guess either way would be wrong half the time.
 * Literal annotations (`<not-affected>`, `<unfixed>`, `<no-dsa>`, `<ignored>`, `<postponed>`) in
 * fixed_version are read the same way. The urgency is kept as written ("unimportant", "high**").
 */
import type { AffectedEntry, AffectedStatus, Advisory, AffectedRange } from '../../core/model.js';
import { checkAdvisory } from '../advisory-schema.js';
import { DEBIAN_SOURCE_PATTERN, VERSION_PATTERN } from '../patterns.js';
import { FIELD_LIMITS } from '../limits.js';
import { describeZodError, type FeedRejection } from '../rejection.js';
import { debianEcosystemOf } from './codenames.js';
import { TRACKER_ISSUE_ID, TrackerIssue, TrackerRelease } from './schema.js';

export interface TrackerParseResult {
  advisories: Advisory[];
  rejections: FeedRejection[];
  /** (package, issue) entries read. */
  entries: number;
}

const ANNOTATIONS: Readonly<Record<string, AffectedStatus>> = {
  '<not-affected>': 'not-affected',
  '<unfixed>': 'unfixed',
  '<no-dsa>': 'no-dsa',
  '<ignored>': 'ignored',
  '<postponed>': 'postponed',
};

interface Draft {
  advisory: Advisory;
  description?: string;
}

export function parseTrackerJson(raw: unknown, source: string, asOf: Date): TrackerParseResult {
  const rejections: FeedRejection[] = [];
  if (!isPlainObject(raw)) {
    return {
      advisories: [],
      entries: 0,
      rejections: [
        { source, recordId: '(document)', reason: 'tracker JSON must be an object of source packages' },
      ],
    };
  }
  const drafts = new Map<string, Draft>();
  let entries = 0;

  for (const [pkg, issues] of Object.entries(raw)) {
    const pkgLabel = printable(pkg);
    if (!DEBIAN_SOURCE_PATTERN.test(pkg) || pkg.length > FIELD_LIMITS.name) {
      rejections.push({
        source,
        recordId: pkgLabel,
        reason: 'not a Debian source package name, package skipped',
      });
      continue;
    }
    if (!isPlainObject(issues)) {
      rejections.push({ source, recordId: pkg, reason: 'expected an object of issues, package skipped' });
      continue;
    }
    for (const [issueId, value] of Object.entries(issues)) {
      entries++;
      const recordId = `${printable(issueId)} (${pkg})`;
      if (!TRACKER_ISSUE_ID.test(issueId)) {
        rejections.push({ source, recordId, reason: 'issue id is neither a CVE id nor a TEMP- id' });
        continue;
      }
      const parsed = TrackerIssue.safeParse(value);
      if (!parsed.success) {
        rejections.push({
          source,
          recordId,
          reason: `invalid tracker entry: ${describeZodError(parsed.error)}`,
        });
        continue;
      }
      const draft = draftFor(drafts, issueId, asOf);
      const issue = parsed.data;
      if (issue.description !== undefined && draft.description === undefined)
        draft.description = issue.description;
      if (issue.debianbug !== undefined) {
        const url = `https://bugs.debian.org/${issue.debianbug}`;
        if (!draft.advisory.references.some((r) => r.url === url))
          draft.advisory.references.push({ type: 'REPORT', url });
      }
      const releases = Array.isArray(issue.releases) ? {} : issue.releases;
      for (const [codename, relValue] of Object.entries(releases)) {
        const entry = affectedEntry(pkg, codename, relValue);
        if (entry === undefined) continue;
        if ('reason' in entry) {
          rejections.push({ source, recordId, reason: `release ${printable(codename)}: ${entry.reason}` });
          continue;
        }
        draft.advisory.affected.push(entry);
      }
    }
  }

  const advisories: Advisory[] = [];
  for (const draft of drafts.values()) {
    finish(draft);
    const invalid = checkAdvisory(draft.advisory);
    if (invalid !== undefined) {
      rejections.push({ source, recordId: draft.advisory.id, reason: describeZodError(invalid) });
      continue;
    }
    advisories.push(draft.advisory);
  }
  return { advisories, rejections, entries };
}

function draftFor(drafts: Map<string, Draft>, issueId: string, asOf: Date): Draft {
  let draft = drafts.get(issueId);
  if (draft === undefined) {
    const isCve = issueId.startsWith('CVE-');
    draft = {
      advisory: {
        id: `DEBIAN-${issueId}`,
        source: 'debian-tracker',
        aliases: isCve ? [issueId] : [],
        cves: isCve ? [issueId] : [],
        modified: asOf,
        summary: '',
        references: [{ type: 'ADVISORY', url: `https://security-tracker.debian.org/tracker/${issueId}` }],
        severity: [],
        affected: [],
      },
    };
    drafts.set(issueId, draft);
  }
  return draft;
}

function finish(draft: Draft): void {
  const a = draft.advisory;
  const description = draft.description?.trim() ?? '';
  // The tracker's description is the CVE text, or "DSA-5514-1: glibc - security update" for
  // entries derived from a DSA/DLA: keep such an advisory id as an alias.
  const dsa = /^((?:DSA|DLA)-\d+(?:-\d+)?):/.exec(description)?.[1];
  if (dsa !== undefined && !a.aliases.includes(dsa)) a.aliases.push(dsa);
  a.summary =
    description === '' ? a.id : description.length <= 200 ? description : `${description.slice(0, 199)}…`;
  if (description.length > 200) a.details = description;
  const key = (e: AffectedEntry) => `${e.ecosystem}\u0000${e.package}`;
  a.affected.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
}

function affectedEntry(
  pkg: string,
  codename: string,
  value: unknown,
): AffectedEntry | { reason: string } | undefined {
  const ecosystem = debianEcosystemOf(codename);
  if (ecosystem === undefined) return { reason: 'unknown Debian release codename, skipped' };
  const parsed = TrackerRelease.safeParse(value);
  if (!parsed.success) return { reason: describeZodError(parsed.error) };
  const rel = parsed.data;
  const fixed = rel.fixed_version?.trim() ?? '';
  const urgency = rel.urgency?.trim();
  const base = { ecosystem, package: pkg, nameKind: 'source' as const, versions: [] as string[] };
  const withUrgency = (e: AffectedEntry): AffectedEntry => (urgency ? { ...e, urgency } : e);
  const unfixedRange: AffectedRange[] = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }];

  const annotated = ANNOTATIONS[fixed];
  if (annotated !== undefined) {
    const ranges = annotated === 'not-affected' ? [] : unfixedRange;
    return withUrgency({ ...base, status: annotated, ranges });
  }
  if (fixed.startsWith('<')) return { reason: `unknown annotation ${printable(fixed)} in fixed_version` };

  switch (rel.status) {
    case 'resolved': {
      if (fixed === '') return undefined;
      if (fixed === '0') return withUrgency({ ...base, status: 'not-affected', ranges: [] });
      if (!VERSION_PATTERN.test(fixed))
        return { reason: `fixed_version ${printable(fixed)} is not a version string` };
      return withUrgency({
        ...base,
        status: 'affected',
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
      });
    }
    case 'open': {
      let status: AffectedStatus = 'unfixed';
      if (rel.nodsa !== undefined || (rel.nodsa_reason !== undefined && rel.nodsa_reason !== '')) {
        status =
          rel.nodsa_reason === 'ignored'
            ? 'ignored'
            : rel.nodsa_reason === 'postponed'
              ? 'postponed'
              : 'no-dsa';
      }
      return withUrgency({ ...base, status, ranges: unfixedRange });
    }
    case 'undetermined':
      return undefined;
    default:
      return { reason: `unknown status ${printable(rel.status)}` };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= 80 ? clean : `${clean.slice(0, 80)}…`;
}
