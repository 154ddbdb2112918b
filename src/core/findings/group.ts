/**
 * Turning scored matches into what people act on. One advisory can name several CVEs and one
 * package can be hit by several advisories with different fixed versions: a person installs one
 * version of a package, the highest fix needed, which also carries every lower fix. So findings are
 * grouped per (host, package) into the version to install (advisories with no fix yet form their
 * own group: installing does not help them), and fixes per (package, version to install) across
 * hosts. A group carries its worst risk, its earliest due date and every advisory and CVE.
 */
import { SSVC_RANK } from '../risk/ssvc.js';
import { getScheme, schemeForEcosystem } from '../versions/index.js';
import type { FindingKind, RiskAssessment, RiskFactor, Severity, SsvcDecision } from '../model.js';

/**
 * Where a finding's package is, for language packages and firmware (absent for a distribution
 * package): the interpreter, npm's global prefix, the lockfile, or the fwupd device.
 */
export interface FindingOwner {
  /** interpreter / site-packages directory / npm prefix / lockfile path / fwupd device id. */
  path: string;
  kind: 'interpreter' | 'site-packages' | 'global-npm' | 'lockfile' | 'device';
}

/** One scored match: host x package x advisory. */
export interface ScoredMatch {
  host: string;
  /** Absent: a distribution package ("os"). */
  kind?: FindingKind;
  owner?: FindingOwner;
  package: string;
  sourcePackage: string;
  arch: string;
  /** OSV ecosystem of the advisory entry: decides how fixed versions are ordered. */
  ecosystem: string;
  installedVersion: string;
  fixedVersion: string | null;
  advisoryId: string;
  cves: readonly string[];
  kev: boolean;
  /** The CVEs of `cves` listed in CISA KEV (when known). */
  kevCves?: readonly string[];
  epss: number | null;
  risk: RiskAssessment;
}

export interface GroupRisk {
  score: number;
  severity: Severity;
  factors: RiskFactor[];
}

/** What one host needs for one package: the `scan --format json` finding. */
export interface HostFinding {
  host: string;
  kind: FindingKind;
  /** Where the package is (language packages, firmware); absent for a distribution package. */
  owner?: FindingOwner;
  package: string;
  sourcePackage: string;
  arch: string;
  installedVersion: string;
  /** The version to install; null when no fix exists yet. */
  fixedVersion: string | null;
  advisories: string[];
  cves: string[];
  kev: boolean;
  epss: number | null;
  risk: GroupRisk;
  ssvc: SsvcDecision;
  dueDate: Date;
  dueReason: string;
  /** CISA's KEV due date (earliest), kept as a fact whatever `dueDate` is. */
  kevDueDate?: Date;
}

/** One fix across hosts: the package and the version to install. */
export interface FixGroup extends Omit<HostFinding, 'host' | 'installedVersion' | 'arch' | 'owner'> {
  /** Where the package is on each host (language packages, firmware). */
  owners?: { host: string; owner: FindingOwner }[];
  hosts: string[];
  installedVersions: string[];
}

const SEVERITY_RANK: Record<Severity, number> = { none: 0, low: 1, medium: 2, high: 3, critical: 4 };

interface Acc {
  first: ScoredMatch;
  fixedVersion: string | null;
  advisories: Set<string>;
  cves: Set<string>;
  kev: boolean;
  epss: number | null;
  worst: RiskAssessment;
  ssvc: SsvcDecision;
  due: RiskAssessment;
  kevDue?: Date;
}

function start(m: ScoredMatch): Acc {
  return {
    first: m,
    fixedVersion: m.fixedVersion,
    advisories: new Set([m.advisoryId]),
    cves: new Set(m.cves),
    kev: m.kev,
    epss: m.epss,
    worst: m.risk,
    ssvc: m.risk.ssvc,
    due: m.risk,
    ...(m.risk.kevDueDate === undefined ? {} : { kevDue: m.risk.kevDueDate }),
  };
}

/** The higher of two fixed versions in the ecosystem's order (the first when they cannot be compared). */
function higherFix(a: string, b: string, ecosystem: string): string {
  const scheme = schemeForEcosystem(ecosystem);
  if (!scheme) return a;
  const impl = getScheme(scheme);
  if (!impl.isValid(a) || !impl.isValid(b)) return a;
  return impl.compare(b, a) > 0 ? b : a;
}

function add(acc: Acc, m: ScoredMatch): void {
  if (acc.fixedVersion !== null && m.fixedVersion !== null) {
    acc.fixedVersion = higherFix(acc.fixedVersion, m.fixedVersion, m.ecosystem);
  }
  acc.advisories.add(m.advisoryId);
  for (const c of m.cves) acc.cves.add(c);
  acc.kev ||= m.kev;
  if (m.epss !== null && (acc.epss === null || m.epss > acc.epss)) acc.epss = m.epss;
  if (m.risk.score > acc.worst.score) acc.worst = m.risk;
  if (SSVC_RANK[m.risk.ssvc] > SSVC_RANK[acc.ssvc]) acc.ssvc = m.risk.ssvc;
  if (m.risk.dueDate.getTime() < acc.due.dueDate.getTime()) acc.due = m.risk;
  const kevDue = m.risk.kevDueDate;
  if (kevDue !== undefined && (acc.kevDue === undefined || kevDue < acc.kevDue)) acc.kevDue = kevDue;
}

function common(acc: Acc) {
  return {
    kind: acc.first.kind ?? 'os',
    ...(acc.first.owner === undefined ? {} : { owner: acc.first.owner }),
    package: acc.first.package,
    sourcePackage: acc.first.sourcePackage,
    fixedVersion: acc.fixedVersion,
    advisories: [...acc.advisories].sort(),
    cves: [...acc.cves].sort(),
    kev: acc.kev,
    epss: acc.epss,
    risk: { score: acc.worst.score, severity: acc.worst.severity, factors: acc.worst.factors },
    ssvc: acc.ssvc,
    dueDate: acc.due.dueDate,
    dueReason: acc.due.dueReason,
    ...(acc.kevDue === undefined ? {} : { kevDueDate: acc.kevDue }),
  };
}

/** Highest risk first, then earliest due date, then package name. */
function byRisk(a: { risk: GroupRisk; dueDate: Date; package: string }, b: typeof a): number {
  return (
    b.risk.score - a.risk.score ||
    SEVERITY_RANK[b.risk.severity] - SEVERITY_RANK[a.risk.severity] ||
    a.dueDate.getTime() - b.dueDate.getTime() ||
    a.package.localeCompare(b.package)
  );
}

export function groupByHostPackage(matches: Iterable<ScoredMatch>): HostFinding[] {
  const groups = new Map<string, Acc>();
  for (const m of matches) {
    const key = `${m.host}\u0000${m.kind ?? 'os'}\u0000${m.owner?.path ?? ''}\u0000${m.package}\u0000${m.arch}\u0000${m.fixedVersion === null ? 'unfixed' : 'fix'}`;
    const acc = groups.get(key);
    if (acc) add(acc, m);
    else groups.set(key, start(m));
  }
  return [...groups.values()]
    .map((acc) => ({
      host: acc.first.host,
      arch: acc.first.arch,
      installedVersion: acc.first.installedVersion,
      ...common(acc),
    }))
    .sort((a, b) => byRisk(a, b) || a.host.localeCompare(b.host));
}

/** Fixes across hosts: host findings with the same package and version to install. */
export function groupByFix(findings: Iterable<HostFinding>): FixGroup[] {
  const groups = new Map<string, FixGroup>();
  for (const f of findings) {
    const key = `${f.kind}\u0000${f.package}\u0000${f.fixedVersion ?? ''}`;
    const g = groups.get(key);
    if (!g) {
      const { host, installedVersion, arch: _arch, owner, ...rest } = f;
      groups.set(key, {
        ...rest,
        advisories: [...f.advisories],
        cves: [...f.cves],
        hosts: [host],
        installedVersions: [installedVersion],
        ...(owner === undefined ? {} : { owners: [{ host, owner }] }),
      });
      continue;
    }
    if (f.owner !== undefined) (g.owners ??= []).push({ host: f.host, owner: f.owner });
    if (!g.hosts.includes(f.host)) g.hosts.push(f.host);
    if (!g.installedVersions.includes(f.installedVersion)) g.installedVersions.push(f.installedVersion);
    for (const a of f.advisories) if (!g.advisories.includes(a)) g.advisories.push(a);
    for (const c of f.cves) if (!g.cves.includes(c)) g.cves.push(c);
    g.kev ||= f.kev;
    if (f.epss !== null && (g.epss === null || f.epss > g.epss)) g.epss = f.epss;
    if (f.risk.score > g.risk.score) g.risk = f.risk;
    if (SSVC_RANK[f.ssvc] > SSVC_RANK[g.ssvc]) g.ssvc = f.ssvc;
    if (f.dueDate.getTime() < g.dueDate.getTime()) {
      g.dueDate = f.dueDate;
      g.dueReason = f.dueReason;
    }
  }
  return [...groups.values()]
    .map((g) => ({
      ...g,
      advisories: g.advisories.sort(),
      cves: g.cves.sort(),
      hosts: g.hosts.sort(),
      installedVersions: g.installedVersions.sort(),
    }))
    .sort(byRisk);
}

/**
 * One fix a person installs on one host: a SOURCE package upgraded to one version, with every binary
 * package built from it ("glibc 2.36-9+deb12u4 -> 2.36-9+deb12u7 (libc6, libc-bin, locales; 5 CVEs,
 * 1 KEV)"). Reports count these, not binary packages.
 */
export interface SourceFix {
  host: string;
  kind: FindingKind;
  owner?: FindingOwner;
  sourcePackage: string;
  /** Installed versions of its binaries (usually one). */
  installedVersions: string[];
  /** The version to install; null for the advisories with no fix yet. */
  fixedVersion: string | null;
  /** Binary packages the fix upgrades, sorted. */
  packages: string[];
  advisories: string[];
  cves: string[];
  /** CVEs of `cves` in CISA KEV. */
  kevCves: string[];
  kev: boolean;
  epss: number | null;
  risk: GroupRisk;
  ssvc: SsvcDecision;
  dueDate: Date;
  dueReason: string;
  kevDueDate?: Date;
}

/**
 * Groups scored matches per host x source package x version to install. Within a source package
 * the highest fix carries every lower one (like groupByHostPackage per binary); advisories with no
 * fix yet form their own group.
 */
export function groupBySourceFix(matches: Iterable<ScoredMatch>): SourceFix[] {
  const groups = new Map<
    string,
    { acc: Acc; packages: Set<string>; installed: Set<string>; kevCves: Set<string> }
  >();
  for (const m of matches) {
    const key = `${m.host}\u0000${m.kind ?? 'os'}\u0000${m.owner?.path ?? ''}\u0000${m.sourcePackage}\u0000${m.fixedVersion === null ? 'unfixed' : 'fix'}`;
    const g = groups.get(key);
    const kevCves = m.kevCves ?? (m.kev ? m.cves : []);
    if (g) {
      add(g.acc, m);
      g.packages.add(m.package);
      g.installed.add(m.installedVersion);
      for (const c of kevCves) g.kevCves.add(c);
    } else {
      groups.set(key, {
        acc: start(m),
        packages: new Set([m.package]),
        installed: new Set([m.installedVersion]),
        kevCves: new Set(kevCves),
      });
    }
  }
  return [...groups.values()]
    .map(({ acc, packages, installed, kevCves }) => {
      const c = common(acc);
      const fix: SourceFix = {
        host: acc.first.host,
        kind: c.kind,
        ...(c.owner === undefined ? {} : { owner: c.owner }),
        sourcePackage: acc.first.sourcePackage,
        installedVersions: [...installed].sort(),
        fixedVersion: c.fixedVersion,
        packages: [...packages].sort(),
        advisories: c.advisories,
        cves: c.cves,
        kevCves: [...kevCves].sort(),
        kev: c.kev,
        epss: c.epss,
        risk: c.risk,
        ssvc: c.ssvc,
        dueDate: c.dueDate,
        dueReason: c.dueReason,
      };
      if (c.kevDueDate !== undefined) fix.kevDueDate = c.kevDueDate;
      return fix;
    })
    .sort(
      (a, b) =>
        byRisk({ ...a, package: a.sourcePackage }, { ...b, package: b.sourcePackage }) ||
        a.host.localeCompare(b.host),
    );
}
