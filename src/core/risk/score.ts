/**
 * Explainable risk: a 0-100 score that is the sum of named factor contributions, a severity band,
 * CISA's SSVC decision and a remediation due date. Pure and deterministic: the same input, policy
 * and `now` give the same assessment. docs/risk.md documents the formula and every default.
 */
import type {
  CveEnrichment,
  CvssScore,
  HostContext,
  RiskAssessment,
  RiskFactor,
  Severity,
  SeverityVector,
  SsvcDecision,
  SsvcInputs,
} from '../model.js';
import { parseCvss, type ParsedCvss } from './cvss.js';
import { distributionSeverity } from './distribution.js';
import type { RiskPolicy } from './policy.js';
import {
  automatableFromCvss,
  exploitationOf,
  isPocReference,
  missionWellbeingOf,
  SSVC_RANK,
  ssvcDecision,
  technicalImpactFromCvss,
  type Reference,
} from './ssvc.js';

export interface RiskInput {
  /** Enrichment (CVSS, EPSS, KEV) of every CVE the finding's advisory covers; unknown CVEs may be left out. */
  cves: readonly CveEnrichment[];
  /** The advisory's own severity vectors (OSV `severity`: CVSS_V3, CVSS_V4, CVSS_V2...). */
  advisorySeverity?: readonly SeverityVector[];
  /**
   * Distribution urgency or severity of the matched entry (Debian tracker urgency, Red Hat severity):
   * the stand-in when no CVSS score is known.
   */
  urgency?: string | null;
  /** OSV ecosystem of the matched entry ("Debian:12"): names the distribution in the labels. */
  ecosystem?: string;
  /** Advisory (and NVD) references: a PoC or exploit link makes SSVC Exploitation "public poc". */
  references?: readonly Reference[];
  /** The host facts that change priority (a HostContext fits). */
  host: {
    criticality: HostContext['criticality'];
    internetFacing: boolean;
    compensatingControls: readonly string[];
  };
  /** Whether a fixed version exists to install. */
  fixAvailable: boolean;
  /** When patchbot first saw the finding: the SLA clock starts on that (UTC) day. Defaults to `now`. */
  firstSeen?: Date;
}

/** Assesses one finding. Keeps a cache of parsed CVSS vectors for its own lifetime. */
export type RiskAssessor = (input: RiskInput, now: Date) => RiskAssessment;

export interface RiskAssessorOptions {
  /** Most distinct vectors kept parsed (the cache is emptied when it grows past this). Default 100,000. */
  maxCachedVectors?: number;
}

/** Where a CVSS-like severity for the score came from, in order of preference (lower is preferred). */
const Rank = {
  NvdV3: 0,
  OtherV3: 1,
  NvdV4: 2,
  OtherV4: 3,
  AdvisoryV3: 4,
  AdvisoryV4: 5,
  AnyV2: 6,
  AdvisoryV2: 7,
} as const;
type Rank = (typeof Rank)[keyof typeof Rank];

interface Candidate {
  rank: Rank;
  parsed: ParsedCvss;
  /** "nvd@nist.gov", a CNA, or "advisory". */
  source: string;
}

interface SsvcChoice {
  decision: SsvcDecision;
  inputs: SsvcInputs;
  cve?: string;
}

interface SeverityChoice {
  baseScore: number;
  label: string;
  basis: 'cvss' | 'distribution' | 'prior';
  cve?: string;
  parsed?: ParsedCvss;
}

const NVD_SOURCE = 'nvd@nist.gov';

/** Creates an assessor bound to one policy, with its own vector cache (no module-level state). */
export function createRiskAssessor(policy: RiskPolicy, options: RiskAssessorOptions = {}): RiskAssessor {
  const maxCached = options.maxCachedVectors ?? 100_000;
  const cache = new Map<string, ParsedCvss | null>();

  const parse = (vector: string): ParsedCvss | null => {
    const hit = cache.get(vector);
    if (hit !== undefined) return hit;
    let parsed: ParsedCvss | null;
    try {
      parsed = parseCvss(vector);
    } catch {
      // An invalid vector from a feed is skipped here (the feed reports it at import); the next
      // preferred score is used instead.
      parsed = null;
    }
    if (cache.size >= maxCached) cache.clear();
    cache.set(vector, parsed);
    return parsed;
  };

  const advisoryCandidates = (vectors: readonly SeverityVector[] | undefined): Candidate[] => {
    const out: Candidate[] = [];
    for (const v of vectors ?? []) {
      const type = v.type.toUpperCase();
      const rank =
        type === 'CVSS_V3'
          ? Rank.AdvisoryV3
          : type === 'CVSS_V4'
            ? Rank.AdvisoryV4
            : type === 'CVSS_V2'
              ? Rank.AdvisoryV2
              : undefined;
      if (rank === undefined) continue;
      const parsed = parse(v.score);
      if (parsed) out.push({ rank, parsed, source: 'advisory' });
    }
    return out;
  };

  // Each CVE's own preferred score, memoised per enrichment object (one object is usually shared by
  // every finding of that CVE); scoped to this assessor like the vector cache.
  const enrichmentBest = new WeakMap<CveEnrichment, Candidate | null>();
  const bestOfEnrichment = (c: CveEnrichment): Candidate | undefined => {
    let b = enrichmentBest.get(c);
    if (b === undefined) {
      b = best(enrichmentCandidates(c.cvss)) ?? null;
      enrichmentBest.set(c, b);
    }
    return b ?? undefined;
  };

  const enrichmentCandidates = (scores: readonly CvssScore[]): Candidate[] => {
    const out: Candidate[] = [];
    for (const s of scores) {
      const parsed = parse(s.vector);
      if (!parsed) continue;
      const nvd = s.primary ?? s.source === NVD_SOURCE;
      const rank =
        parsed.version === '2.0'
          ? Rank.AnyV2
          : parsed.version === '4.0'
            ? nvd
              ? Rank.NvdV4
              : Rank.OtherV4
            : nvd
              ? Rank.NvdV3
              : Rank.OtherV3;
      out.push({ rank, parsed, source: s.source });
    }
    return out;
  };

  return (input, now) => {
    const w = policy.weights;
    const cves = input.cves.filter((c) => c.rejected !== true);
    const advisoryBest = best(advisoryCandidates(input.advisorySeverity));

    // --- CVSS: each CVE's preferred score, then the worst CVE. ---
    const perCve = cves.map((c) => ({
      enrichment: c,
      best: better(bestOfEnrichment(c), advisoryBest),
    }));
    let severity: SeverityChoice | undefined;
    for (const { enrichment, best: b } of perCve) {
      if (!b) continue;
      if (severity === undefined || b.parsed.baseScore > severity.baseScore) {
        severity = {
          baseScore: b.parsed.baseScore,
          label: `CVSS ${b.parsed.baseScore.toFixed(1)} (v${b.parsed.version}, ${b.source}, ${enrichment.cve})`,
          basis: 'cvss',
          cve: enrichment.cve,
          parsed: b.parsed,
        };
      }
    }
    if (severity === undefined) {
      const b = advisoryBest;
      if (b) {
        severity = {
          baseScore: b.parsed.baseScore,
          label: `CVSS ${b.parsed.baseScore.toFixed(1)} (v${b.parsed.version}, advisory)`,
          basis: 'cvss',
          parsed: b.parsed,
        };
      }
    }
    // Unknown is not zero: a CVE without any CVSS score counts with the distribution's own severity,
    // else the policy's conservative prior; the worst CVE still wins.
    const unknown = perCve.find((p) => p.best === undefined);
    if (severity === undefined || unknown !== undefined) {
      const d = distributionSeverity(input);
      const what = unknown === undefined ? 'CVSS unknown' : `CVSS unknown for ${unknown.enrichment.cve}`;
      const standIn: SeverityChoice = d
        ? { baseScore: d.score, label: `${what}; ${d.label}`, basis: 'distribution' }
        : {
            baseScore: policy.unknownCvss,
            label: `${what}; no distribution severity; prior ${policy.unknownCvss.toFixed(1)}`,
            basis: 'prior',
          };
      if (unknown !== undefined) standIn.cve = unknown.enrichment.cve;
      if (severity === undefined || standIn.baseScore > severity.baseScore) severity = standIn;
    }

    // --- EPSS, KEV, ransomware: the worst CVE for each. ---
    let epss: { score: number; percentile: number; cve: string } | undefined;
    let kev: { dueDate: string; dateAdded: string; cve: string } | undefined;
    let ransomwareCve: string | undefined;
    for (const c of cves) {
      if (c.epss && (epss === undefined || c.epss.score > epss.score)) {
        epss = { score: c.epss.score, percentile: c.epss.percentile, cve: c.cve };
      }
      if (c.kev) {
        if (kev === undefined || compareIsoDates(c.kev.dueDate, kev.dueDate) < 0) {
          kev = { dueDate: c.kev.dueDate, dateAdded: c.kev.dateAdded, cve: c.cve };
        }
        if (c.kev.knownRansomware && ransomwareCve === undefined) ransomwareCve = c.cve;
      }
    }

    const host = input.host;
    const controls = host.compensatingControls.filter((s) => s.trim() !== '');
    const factors: RiskFactor[] = [
      withCve(
        {
          name: 'cvss',
          label: severity.label,
          value: severity.baseScore,
          contribution: tenths(w.cvss * (severity.baseScore / 10)),
          basis: severity.basis,
        },
        severity.cve,
      ),
      withCve(
        {
          name: 'epss',
          label: epss
            ? `EPSS ${epss.score.toFixed(2)} (${ordinal(Math.floor(epss.percentile * 100))} percentile, ${epss.cve})`
            : 'EPSS unknown',
          value: epss ? epss.score : null,
          contribution: tenths(w.epss * clamp(epss?.score ?? 0, 0, 1)),
        },
        epss?.cve,
      ),
      withCve(
        {
          name: 'kev',
          label: kev ? `in CISA KEV since ${kev.dateAdded} (${kev.cve})` : 'not in CISA KEV',
          value: kev !== undefined,
          contribution: kev ? tenths(w.kev) : 0,
        },
        kev?.cve,
      ),
      withCve(
        {
          name: 'ransomware',
          label: ransomwareCve ? `KEV: known ransomware use (${ransomwareCve})` : 'no known ransomware use',
          value: ransomwareCve !== undefined,
          contribution: ransomwareCve ? tenths(w.ransomware) : 0,
        },
        ransomwareCve,
      ),
      {
        name: 'criticality',
        label: `criticality tier ${host.criticality}`,
        value: host.criticality,
        contribution: tenths((w.criticality * (4 - host.criticality)) / 3),
      },
      {
        name: 'exposure',
        label: host.internetFacing ? 'internet-facing' : 'not internet-facing',
        value: host.internetFacing,
        contribution: host.internetFacing ? tenths(w.exposure) : 0,
      },
      {
        name: 'controls',
        label:
          controls.length > 0 ? `compensating controls: ${controls.join(', ')}` : 'no compensating controls',
        value: controls.length > 0,
        contribution: controls.length > 0 ? -tenths(w.compensatingControls) : 0,
      },
      {
        name: 'fix',
        label: input.fixAvailable ? 'fix available' : 'no fix available yet',
        value: input.fixAvailable,
        contribution: input.fixAvailable ? 0 : -tenths(w.noFix),
      },
    ];

    // Contributions are multiples of 0.1; add them as integers to keep the sum exact.
    let rawTenths = factors.reduce((sum, f) => sum + Math.round(f.contribution * 10), 0);
    // A CVE exploited in the wild is never below the high band, wherever the host is.
    const floorTenths = Math.round(policy.bands.high * 10);
    if (kev && rawTenths < floorTenths) {
      factors.push(
        withCve(
          {
            name: 'kev-floor',
            label: `KEV floor: raised to the high band (${policy.bands.high})`,
            value: policy.bands.high,
            contribution: (floorTenths - rawTenths) / 10,
          },
          kev.cve,
        ),
      );
      rawTenths = floorTenths;
    }
    const rawScore = rawTenths / 10;
    const score = clamp(rawScore, 0, 100);
    const band = severityBand(score, policy);

    // --- SSVC: decide per CVE, keep the worst decision. ---
    const missionWellbeing = missionWellbeingOf(host);
    const pocReference = (input.references ?? []).some(isPocReference);
    const decide = (parsed: ParsedCvss | undefined, c: CveEnrichment | undefined): SsvcChoice => {
      const inputs: SsvcInputs = {
        exploitation: exploitationOf(
          { kev: c?.kev !== undefined, epss: c?.epss?.score ?? null, pocReference, cvss: parsed ?? null },
          policy.pocEpssThreshold,
        ),
        automatable: automatableFromCvss(parsed),
        technicalImpact: technicalImpactFromCvss(parsed),
        missionWellbeing,
      };
      const decision = ssvcDecision(inputs);
      return c ? { decision, inputs, cve: c.cve } : { decision, inputs };
    };
    let decided: SsvcChoice | undefined;
    for (const { enrichment, best: b } of perCve) {
      const d = decide(b?.parsed, enrichment);
      if (decided === undefined || SSVC_RANK[d.decision] > SSVC_RANK[decided.decision]) decided = d;
    }
    decided ??= decide(severity.parsed, undefined);

    // --- Due date: KEV's (earliest across CVEs) unless it had passed before the finding was first
    // seen (then first seen + KEV SLA days), else first seen + SLA days for the band. ---
    const kevDue = kev ? parseIsoDate(kev.dueDate) : undefined;
    const start = input.firstSeen ?? now;
    const startDay = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()));
    const plusDays = (days: number) =>
      new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate() + days));
    let dueDate: Date;
    let dueReason: string;
    if (kev && kevDue && kevDue.getTime() >= startDay.getTime()) {
      dueDate = kevDue;
      dueReason = `KEV due date ${kev.dueDate} (${kev.cve})`;
    } else if (kev && kevDue) {
      dueDate = plusDays(policy.kevSlaDays);
      dueReason =
        `KEV due ${kev.dueDate} (${kev.cve}) passed before first seen ${isoDay(startDay)}; ` +
        `KEV SLA ${policy.kevSlaDays} days from first seen`;
    } else {
      const days = policy.slaDays[band];
      dueDate = plusDays(days);
      dueReason = `SLA ${band}: ${days} days from first seen ${isoDay(startDay)}`;
    }

    const assessment: RiskAssessment = {
      score,
      severity: band,
      factors,
      ssvc: decided.decision,
      dueDate,
      dueReason,
      ssvcInputs: decided.inputs,
      rawScore,
    };
    if (kevDue) assessment.kevDueDate = kevDue;
    if (decided.cve !== undefined) assessment.ssvcCve = decided.cve;
    return assessment;
  };
}

/** One-off assessment (a fresh assessor per call: use createRiskAssessor for many findings). */
export function assessRisk(input: RiskInput, policy: RiskPolicy, now: Date): RiskAssessment {
  return createRiskAssessor(policy)(input, now);
}

/** The band a score falls in: at or above a band's lower bound belongs to it; below medium is low. */
export function severityBand(score: number, policy: RiskPolicy): Exclude<Severity, 'none'> {
  const b = policy.bands;
  if (score >= b.critical) return 'critical';
  if (score >= b.high) return 'high';
  if (score >= b.medium) return 'medium';
  return 'low';
}

/** Short text for one factor: "KEV +25", "EPSS 0.81 +16", "internet-facing +10", "no fix -5". */
export function formatFactor(f: RiskFactor): string {
  const points = formatPoints(f.contribution);
  switch (f.name) {
    case 'cvss':
      if (typeof f.value !== 'number') return `severity ${points}`;
      if (f.basis === 'prior') return `CVSS unknown (prior ${f.value.toFixed(1)}) ${points}`;
      if (f.basis === 'distribution')
        return `CVSS unknown, ${f.label.slice(f.label.indexOf('; ') + 2)} ${points}`;
      return `CVSS ${f.value.toFixed(1)} ${points}`;
    case 'epss':
      return typeof f.value === 'number' ? `EPSS ${f.value.toFixed(2)} ${points}` : `EPSS ${points}`;
    case 'kev':
      return `KEV ${points}`;
    case 'ransomware':
      return `ransomware ${points}`;
    case 'criticality':
      return `tier ${String(f.value)} ${points}`;
    case 'exposure':
      return `internet-facing ${points}`;
    case 'controls':
      return `compensating controls ${points}`;
    case 'fix':
      return `no fix ${points}`;
    case 'kev-floor':
      return `KEV floor ${points}`;
    default:
      return `${f.name} ${points}`;
  }
}

/** The n factors that moved the score most (by absolute contribution), for a chat line. */
export function topFactors(assessment: Pick<RiskAssessment, 'factors'>, n: number): string {
  return assessment.factors
    .map((f, i) => ({ f, i }))
    .filter(({ f }) => f.contribution !== 0)
    .sort((a, b) => Math.abs(b.f.contribution) - Math.abs(a.f.contribution) || a.i - b.i)
    .slice(0, Math.max(0, n))
    .map(({ f }) => formatFactor(f))
    .join(', ');
}

/** What a notification remembered about a finding, to compare with its current risk. */
export interface EscalationState {
  score: number;
  kev: boolean;
  epss: number | null;
}

/** The escalation-relevant part of an assessment (score, KEV, EPSS). */
export function escalationState(a: Pick<RiskAssessment, 'score' | 'factors'>): EscalationState {
  const kev = a.factors.find((f) => f.name === 'kev')?.value === true;
  const epssValue = a.factors.find((f) => f.name === 'epss')?.value;
  return { score: a.score, kev, epss: typeof epssValue === 'number' ? epssValue : null };
}

/**
 * Whether a finding got worse enough since its last notification to announce it again: it became
 * KEV, its score rose by at least `escalationDelta`, or its EPSS rose from below `epssEscalation`
 * to at or above it.
 */
export function isEscalation(
  previous: EscalationState,
  current: EscalationState,
  policy: RiskPolicy,
): { escalated: boolean; reason: string } {
  const reasons: string[] = [];
  if (!previous.kev && current.kev) reasons.push('became KEV');
  const delta = Math.round((current.score - previous.score) * 10) / 10;
  if (delta >= policy.escalationDelta) {
    reasons.push(
      `score rose ${previous.score} -> ${current.score} (+${delta}, threshold ${policy.escalationDelta})`,
    );
  }
  const before = previous.epss ?? 0;
  const after = current.epss ?? 0;
  if (before < policy.epssEscalation && after >= policy.epssEscalation) {
    const was = previous.epss === null ? 'unknown' : previous.epss.toFixed(2);
    reasons.push(`EPSS crossed ${policy.epssEscalation} (${was} -> ${after.toFixed(2)})`);
  }
  return reasons.length > 0
    ? { escalated: true, reason: reasons.join('; ') }
    : { escalated: false, reason: 'no new KEV listing, score or EPSS rise past the thresholds' };
}

/** The preferred candidate: lower rank first, then the higher base score, then the first given. */
function best(candidates: readonly Candidate[]): Candidate | undefined {
  let out: Candidate | undefined;
  for (const c of candidates) out = better(out, c);
  return out;
}

function better(a: Candidate | undefined, b: Candidate | undefined): Candidate | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.rank < a.rank || (b.rank === a.rank && b.parsed.baseScore > a.parsed.baseScore) ? b : a;
}

function withCve(f: RiskFactor, cve: string | undefined): RiskFactor {
  if (cve !== undefined) f.cve = cve;
  return f;
}

/** Rounds points to one decimal (the precision of every contribution). */
function tenths(x: number): number {
  return Math.round(x * 10) / 10;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

function formatPoints(p: number): string {
  const shown = Math.abs(p) >= 1 || p === 0 ? String(Math.round(p)) : p.toFixed(1);
  return p >= 0 ? `+${shown}` : shown.startsWith('-') ? shown : `-${shown}`;
}

function ordinal(n: number): string {
  const mod100 = n % 100;
  const suffix =
    mod100 >= 11 && mod100 <= 13
      ? 'th'
      : n % 10 === 1
        ? 'st'
        : n % 10 === 2
          ? 'nd'
          : n % 10 === 3
            ? 'rd'
            : 'th';
  return `${n}${suffix}`;
}

const ISO_DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "YYYY-MM-DD" -> that day at 00:00 UTC, or undefined when it is not a real calendar date. */
function parseIsoDate(s: string): Date | undefined {
  const m = ISO_DAY.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d
    ? date
    : undefined;
}

/** Orders "YYYY-MM-DD" strings; an invalid one sorts last. */
function compareIsoDates(a: string, b: string): number {
  const da = parseIsoDate(a)?.getTime() ?? Number.POSITIVE_INFINITY;
  const db = parseIsoDate(b)?.getTime() ?? Number.POSITIVE_INFINITY;
  return da < db ? -1 : da > db ? 1 : 0;
}

/** "YYYY-MM-DD" of a UTC day (years 0-9999). */
function isoDay(d: Date): string {
  const m = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${day < 10 ? '0' : ''}${day}`;
}
