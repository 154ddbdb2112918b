/**
 * dpkg inventory: the status file (/var/lib/dpkg/status) and `dpkg-query -W` output in the
 * format DPKG_QUERY_FORMAT. Both keep the source package: Debian advisories name SOURCE packages,
 * and a binNMU (`2.36-9+deb12u3+b1`) or `Source: glibc (2.36-9+deb12u3)` differs from its binary.
 *
 * Only packages whose files are on disk are returned: status `installed`, and the intermediate
 * states (`half-installed`, `unpacked`, `half-configured`, `triggers-awaited`, `triggers-pending`)
 * with `state` set and a warning saying dpkg has not finished with them. `not-installed` and
 * `config-files` (only configuration left after removal) are skipped silently.
 */
import type { InstalledPackage, PackageState } from '../../core/model.js';
import { archProblem, packageNameProblem, versionProblem } from '../../core/packages/names.js';
import { readParagraphs } from './deb822.js';
import { showLine, splitLines, WarningList, type PackagesParseResult } from './warnings.js';

/**
 * The `dpkg-query -W -f` format patchbot runs: `${Status}` is the same three words as in the status
 * file (`install ok installed`) and works on every dpkg version; `${Source}` is the raw field,
 * empty or `name` or `name (version)`.
 */
export const DPKG_QUERY_FORMAT = '${Package}\\t${Version}\\t${Architecture}\\t${Source}\\t${Status}\\n';

const PRESENT_STATES: ReadonlySet<string> = new Set([
  'installed',
  'half-installed',
  'unpacked',
  'half-configured',
  'triggers-awaited',
  'triggers-pending',
]);
const ABSENT_STATES: ReadonlySet<string> = new Set(['not-installed', 'config-files']);
const WANTS: ReadonlySet<string> = new Set(['unknown', 'install', 'hold', 'deinstall', 'purge']);
const EFLAGS: ReadonlySet<string> = new Set(['ok', 'reinstreq', 'hold', 'hold-reinstreq']);

const STATE_NOTES: Record<PackageState, string> = {
  'half-installed': 'its installation was interrupted (dpkg status half-installed)',
  unpacked: 'it is unpacked but not configured (dpkg status unpacked)',
  'half-configured': 'its configuration did not finish (dpkg status half-configured)',
  'triggers-awaited': 'it awaits trigger processing (dpkg status triggers-awaited)',
  'triggers-pending': 'it has pending triggers (dpkg status triggers-pending)',
};

const SOURCE_FIELD = /^(\S+)(?:\s+\((\S+)\))?$/;

interface DpkgRecord {
  line: number;
  name: string;
  version: string;
  arch: string;
  source: string;
  status: string;
}

type Outcome = { pkg: InstalledPackage } | { skip: true } | { reason: string };

function toPackage(rec: DpkgRecord, warnings: WarningList): Outcome {
  const label = rec.name === '' ? 'record' : `package ${JSON.stringify(rec.name.slice(0, 80))}`;
  const words = rec.status.split(/\s+/).filter((w) => w !== '');
  if (words.length !== 3 || !WANTS.has(words[0]) || !EFLAGS.has(words[1])) {
    return { reason: `${label}: invalid Status ${showLine(rec.status)}` };
  }
  const state = words[2];
  if (ABSENT_STATES.has(state)) return { skip: true };
  if (!PRESENT_STATES.has(state)) return { reason: `${label}: unknown dpkg state ${showLine(state)}` };

  const problem =
    packageNameProblem('dpkg', rec.name) ?? versionProblem('dpkg', rec.version) ?? archProblem(rec.arch);
  if (problem !== undefined)
    return { reason: rec.name === '' ? `record without Package: ${problem}` : problem };

  let sourceName = rec.name;
  let sourceVersion = rec.version;
  if (rec.source !== '') {
    const m = SOURCE_FIELD.exec(rec.source);
    if (m === null) return { reason: `${label}: invalid Source ${showLine(rec.source)}` };
    sourceName = m[1]!;
    if (m[2] !== undefined) sourceVersion = m[2];
    const sourceProblem = packageNameProblem('dpkg', sourceName) ?? versionProblem('dpkg', sourceVersion);
    if (sourceProblem !== undefined) return { reason: `${label}: Source: ${sourceProblem}` };
  }
  const pkg: InstalledPackage = {
    name: rec.name,
    version: rec.version,
    arch: rec.arch,
    sourceName,
    sourceVersion,
  };
  if (state !== 'installed') {
    pkg.state = state as PackageState;
    warnings.add(rec.line, `package ${rec.name} (${rec.arch}) is present but ${STATE_NOTES[pkg.state]}`);
  }
  if (words[1] !== 'ok') {
    warnings.add(rec.line, `package ${rec.name} (${rec.arch}) is marked for reinstallation (${words[1]})`);
  }
  return { pkg };
}

function collect(records: Iterable<DpkgRecord>, warnings: WarningList): InstalledPackage[] {
  const packages: InstalledPackage[] = [];
  const seen = new Set<string>();
  for (const rec of records) {
    const out = toPackage(rec, warnings);
    if ('reason' in out) {
      warnings.add(rec.line, out.reason);
      continue;
    }
    if ('skip' in out) continue;
    const key = `${out.pkg.name}:${out.pkg.arch}`;
    if (seen.has(key)) {
      warnings.add(rec.line, `package ${key} listed twice; the first entry is kept`);
      continue;
    }
    seen.add(key);
    packages.push(out.pkg);
  }
  return packages;
}

/** Parses the text of /var/lib/dpkg/status. */
export function parseDpkgStatus(text: string): PackagesParseResult {
  const warnings = new WarningList();
  const paragraphs = readParagraphs(splitLines(text), warnings);
  const records = paragraphs.map((p): DpkgRecord => {
    const get = (f: string): string => p.fields.get(f)?.value ?? '';
    return {
      line: p.fields.get('package')?.line ?? p.line,
      name: get('package'),
      version: get('version'),
      arch: get('architecture'),
      source: get('source'),
      status: get('status'),
    };
  });
  return { packages: collect(records, warnings), warnings: warnings.list() };
}

/** Parses the output of `dpkg-query -W -f DPKG_QUERY_FORMAT`. */
export function parseDpkgQuery(text: string): PackagesParseResult {
  const warnings = new WarningList();
  const records: DpkgRecord[] = [];
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const f = raw.split('\t');
    if (f.length !== 5) {
      warnings.add(line, `expected 5 tab-separated fields, got ${f.length}: ${showLine(raw)}`);
      return;
    }
    records.push({ line, name: f[0], version: f[1], arch: f[2], source: f[3].trim(), status: f[4] });
  });
  return { packages: collect(records, warnings), warnings: warnings.list() };
}
