/**
 * The scan: match the latest inventory of hosts against the advisories in the database, score
 * every match, and (for stored hosts) replace each host's findings with the result.
 */
import type { Logger } from 'pino';
import {
  groupByFix,
  groupByHostPackage,
  type FixGroup,
  type HostFinding,
  type ScoredMatch,
} from '../core/findings/group.js';
import {
  buildAdvisoryIndex,
  createMatcher,
  ecosystemsForOs,
  type MatchWarning,
} from '../core/matching/index.js';
import type { Advisory, CveEnrichment, HostContext, InventorySnapshot } from '../core/model.js';
import type { RiskPolicy } from '../core/risk/policy.js';
import { createRiskAssessor } from '../core/risk/score.js';
import type { Repositories } from '../db/index.js';
import type { FindingWrite, HostFindingsChange } from '../db/repositories/finding-repository.js';

export interface ScanTarget {
  /** Host name as shown to people. */
  name: string;
  /** Database id; absent for an offline input (`--dpkg-status`), whose findings are not stored. */
  hostId?: string;
  context: Pick<HostContext, 'criticality' | 'internetFacing' | 'compensatingControls'>;
  snapshot: InventorySnapshot;
}

export interface ScanResult {
  hosts: { name: string; os: string; packages: number; findings: number; rebootRequired: boolean }[];
  /** Per host x package x fixed version, highest risk first. */
  findings: HostFinding[];
  /** Per package x fixed version across hosts, highest risk first. */
  fixes: FixGroup[];
  advisoriesConsidered: number;
  warnings: MatchWarning[];
  /** What changed in the database, per stored host. */
  changes: Record<string, HostFindingsChange>;
}

export interface ScanDeps {
  repos: Repositories;
  riskPolicy: RiskPolicy;
  logger?: Logger;
  now?: () => Date;
}

const NO_ENRICHMENT = (cve: string): CveEnrichment => ({ cve, cvss: [] });

export async function scanTargets(deps: ScanDeps, targets: readonly ScanTarget[]): Promise<ScanResult> {
  const now = deps.now?.() ?? new Date();
  const ecosystemsOf = new Map(targets.map((t) => [t.name, ecosystemsForOs(t.snapshot.os)]));
  const ecosystems = [...new Set([...ecosystemsOf.values()].flat())];
  const names = new Set<string>();
  for (const t of targets) {
    for (const p of t.snapshot.packages) {
      names.add(p.name);
      names.add(p.sourceName);
    }
  }
  const advisories =
    ecosystems.length > 0 ? await deps.repos.advisories.findForEcosystems(ecosystems, names) : [];
  const advisoryById = new Map<string, Advisory>(advisories.map((a) => [a.id, a]));
  const matcher = createMatcher(buildAdvisoryIndex(advisories));

  const perHost = targets.map((t) => ({
    target: t,
    matches: matcher.match(ecosystemsOf.get(t.name) ?? [], t.snapshot.packages),
  }));
  const cves = new Set<string>();
  for (const { matches } of perHost) for (const m of matches) for (const c of m.cves) cves.add(c);
  const enrichment = await deps.repos.advisories.enrichmentFor(cves);

  // the SLA clock of a finding starts when it was first seen, so existing findings keep their date
  const storedIds = targets.flatMap((t) => (t.hostId ? [t.hostId] : []));
  const firstSeen = new Map<string, Date>();
  if (storedIds.length > 0) {
    for (const f of await deps.repos.findings.forHosts(storedIds, ['open', 'accepted', 'deferred'])) {
      firstSeen.set(`${f.hostId}\u0000${f.packageName}\u0000${f.advisoryId}`, f.firstSeenAt);
    }
  }

  const assess = createRiskAssessor(deps.riskPolicy);
  const scored: ScoredMatch[] = [];
  const changes: Record<string, HostFindingsChange> = {};
  const hosts: ScanResult['hosts'] = [];
  for (const { target, matches } of perHost) {
    const writes = new Map<string, FindingWrite>();
    let hostFindings = 0;
    for (const m of matches) {
      const advisory = advisoryById.get(m.advisoryId);
      const entry = advisory?.affected.find(
        (e) =>
          e.ecosystem === m.ecosystem && (e.package === m.package.sourceName || e.package === m.package.name),
      );
      const enriched = m.cves.map((c) => enrichment.get(c) ?? NO_ENRICHMENT(c));
      const seen = target.hostId
        ? firstSeen.get(`${target.hostId}\u0000${m.package.name}\u0000${m.advisoryId}`)
        : undefined;
      const risk = assess(
        {
          cves: enriched,
          advisorySeverity: advisory?.severity ?? [],
          urgency: entry?.urgency ?? null,
          references: advisory?.references ?? [],
          host: target.context,
          fixAvailable: m.fixedVersion !== null,
          firstSeen: seen ?? now,
        },
        now,
      );
      const kev = enriched.some((e) => e.kev !== undefined);
      const epssValues = enriched.flatMap((e) => (e.epss ? [e.epss.score] : []));
      const epss = epssValues.length > 0 ? Math.max(...epssValues) : null;
      scored.push({
        host: target.name,
        package: m.package.name,
        sourcePackage: m.package.sourceName,
        arch: m.package.arch,
        ecosystem: m.ecosystem,
        installedVersion: m.package.version,
        fixedVersion: m.fixedVersion,
        advisoryId: m.advisoryId,
        cves: m.cves,
        kev,
        epss,
        risk,
      });
      hostFindings++;
      // one finding per package and advisory (a multi-arch package counts once)
      const key = `${m.package.name}\u0000${m.advisoryId}`;
      if (!writes.has(key)) {
        writes.set(key, {
          packageName: m.package.name,
          sourcePackage: m.package.sourceName,
          advisoryId: m.advisoryId,
          ecosystem: m.ecosystem,
          installedVersion: m.package.version,
          fixedVersion: m.fixedVersion,
          cves: m.cves,
          kev,
          epssScore: epss,
          risk,
        });
      }
    }
    if (target.hostId) {
      changes[target.name] = await deps.repos.findings.syncHost(target.hostId, [...writes.values()], now);
    }
    hosts.push({
      name: target.name,
      os: target.snapshot.os.prettyName ?? `${target.snapshot.os.id} ${target.snapshot.os.versionId}`,
      packages: target.snapshot.packages.length,
      findings: hostFindings,
      rebootRequired: target.snapshot.rebootRequired,
    });
  }
  const warnings = matcher.warnings();
  for (const w of warnings) deps.logger?.warn(w, 'advisory data could not be evaluated');
  const findings = groupByHostPackage(scored);
  return {
    hosts,
    findings,
    fixes: groupByFix(findings),
    advisoriesConsidered: advisories.length,
    warnings,
    changes,
  };
}
