/**
 * Real test data turned into domain objects for the matching tests: the Debian tracker JSON and
 * OSV records (a deliberately small reading of the formats; src/feeds parses them for real), and
 * the installed packages of a real Debian 12 status file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Advisory, AffectedEntry, InstalledPackage } from '../../../src/core/model.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

interface TrackerRelease {
  status: string;
  fixed_version?: string;
}

/** Tracker JSON (package -> CVE -> releases) as one advisory per CVE and package, for one release. */
export function trackerAdvisories(codename: string, ecosystem: string): Advisory[] {
  const raw = JSON.parse(
    readFileSync(path.join(FIXTURES, 'matching/bookworm-dsa-sample.tracker.json'), 'utf8'),
  ) as Record<string, Record<string, { releases: Record<string, TrackerRelease> }>>;
  const out: Advisory[] = [];
  for (const [pkg, issues] of Object.entries(raw)) {
    for (const [cve, issue] of Object.entries(issues)) {
      const rel = issue.releases[codename];
      if (rel === undefined) continue;
      const entry: AffectedEntry = {
        ecosystem,
        package: pkg,
        nameKind: 'source',
        status: 'affected',
        ranges: [],
        versions: [],
      };
      if (rel.status === 'resolved' && rel.fixed_version === '0') entry.status = 'not-affected';
      else if (rel.status === 'resolved' && rel.fixed_version !== undefined) {
        entry.ranges = [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: rel.fixed_version }] }];
      } else entry.status = 'unfixed';
      out.push(advisory(`DEBIAN-${cve}`, [cve], [entry]));
    }
  }
  return out;
}

interface OsvRecord {
  id: string;
  aliases?: string[];
  upstream?: string[];
  withdrawn?: string;
  affected: {
    package: { ecosystem: string; name: string };
    ranges?: AffectedEntry['ranges'];
    versions?: string[];
    ecosystem_specific?: { binaries?: { binary_name: string }[] };
  }[];
}

export function osvAdvisory(file: string, nameKind: AffectedEntry['nameKind']): Advisory {
  const rec = JSON.parse(readFileSync(path.join(FIXTURES, 'matching', file), 'utf8')) as OsvRecord;
  // Ubuntu records name their CVEs as upstream "UBUNTU-CVE-2024-6387".
  const cves = [...(rec.aliases ?? []), ...(rec.upstream ?? [])].flatMap(
    (a) => /CVE-\d{4}-\d+$/.exec(a) ?? [],
  );
  const entries: AffectedEntry[] = rec.affected.map((a) => {
    const e: AffectedEntry = {
      ecosystem: a.package.ecosystem,
      package: a.package.name,
      nameKind,
      status: 'affected',
      ranges: a.ranges ?? [],
      versions: a.versions ?? [],
    };
    const bins = a.ecosystem_specific?.binaries;
    if (bins !== undefined) e.binaries = bins.map((b) => b.binary_name);
    return e;
  });
  return advisory(rec.id, cves, entries);
}

export function advisory(id: string, cves: string[], affected: AffectedEntry[], withdrawn?: Date): Advisory {
  return {
    id,
    source: 'osv',
    aliases: [],
    cves,
    modified: new Date('2024-07-01T00:00:00Z'),
    withdrawn,
    summary: id,
    references: [],
    severity: [],
    affected,
  };
}

/** The installed packages of the real Debian 12 status file. */
export function debian12Packages(): InstalledPackage[] {
  const text = readFileSync(path.join(FIXTURES, 'versions/debian12-dpkg-status'), 'utf8');
  const out: InstalledPackage[] = [];
  for (const stanza of text.split(/\n\n+/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1]?.trim();
    const name = field('Package');
    const version = field('Version');
    if (name === undefined || version === undefined || !/ installed$/.test(field('Status') ?? '')) continue;
    const source = /^(\S+)(?: \((\S+)\))?$/.exec(field('Source') ?? name)!;
    out.push({
      name,
      version,
      arch: field('Architecture') ?? 'all',
      sourceName: source[1],
      sourceVersion: source[2] ?? version,
    });
  }
  return out;
}

export function pkg(
  name: string,
  version: string,
  sourceName = name,
  sourceVersion = version,
): InstalledPackage {
  return { name, version, arch: 'amd64', sourceName, sourceVersion };
}
