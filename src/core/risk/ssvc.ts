/**
 * SSVC (Stakeholder-Specific Vulnerability Categorization) with CISA's coordinator decision table:
 * the four decision points are derived from data patchbot has (KEV, EPSS, references, the CVSS
 * vector, the host's tier and exposure), then looked up in the table. docs/risk.md explains each
 * rule and its limits.
 */
import type { HostContext, SsvcDecision, SsvcInputs } from '../model.js';
import type { ParsedCvss } from './cvss.js';
import {
  CISA_BOD_26_04_1_0_0,
  CISA_COORDINATOR_2_0_3,
  type Automatable,
  type Bod2604Timeline,
  type Exploitation,
  type MissionWellbeing,
  type TechnicalImpact,
} from './ssvc-table.js';

export type {
  Automatable,
  Bod2604Timeline,
  Exploitation,
  MissionWellbeing,
  TechnicalImpact,
} from './ssvc-table.js';

/** Rank of each decision, for "worst of": Track < Track* < Attend < Act. */
export const SSVC_RANK: Readonly<Record<SsvcDecision, number>> = { Track: 0, 'Track*': 1, Attend: 2, Act: 3 };

const E_INDEX: Readonly<Record<Exploitation, number>> = { none: 0, 'public poc': 1, active: 2 };
const A_INDEX: Readonly<Record<Automatable, number>> = { no: 0, yes: 1 };
const T_INDEX: Readonly<Record<TechnicalImpact, number>> = { partial: 0, total: 1 };
const M_INDEX: Readonly<Record<MissionWellbeing, number>> = { low: 0, medium: 1, high: 2 };

const inputsIndex = (e: Exploitation, a: Automatable, t: TechnicalImpact, m: MissionWellbeing): number =>
  ((E_INDEX[e] * 2 + A_INDEX[a]) * 2 + T_INDEX[t]) * 3 + M_INDEX[m];

/** Immutable lookup built once from the constant table (not state: the same for every caller). */
const COORDINATOR_LOOKUP: readonly (SsvcDecision | undefined)[] = (() => {
  const out: (SsvcDecision | undefined)[] = new Array<SsvcDecision | undefined>(36).fill(undefined);
  for (const [e, a, t, m, d] of CISA_COORDINATOR_2_0_3) out[inputsIndex(e, a, t, m)] = d;
  return out;
})();

const BOD_LOOKUP: ReadonlyMap<string, Bod2604Timeline> = new Map(
  CISA_BOD_26_04_1_0_0.map(([k, p, a, t, out]) => [`${k}|${p}|${a}|${t}`, out] as const),
);

/** CISA coordinator decision (Track, Track*, Attend, Act) for the four decision points. */
export function ssvcDecision(inputs: SsvcInputs): SsvcDecision {
  const d =
    COORDINATOR_LOOKUP[
      inputsIndex(inputs.exploitation, inputs.automatable, inputs.technicalImpact, inputs.missionWellbeing)
    ];
  if (d === undefined) throw new RangeError(`no SSVC table row for ${JSON.stringify(inputs)}`);
  return d;
}

export interface Bod2604Inputs {
  inKev: boolean;
  publiclyExposed: boolean;
  automatable: Automatable;
  technicalImpact: TechnicalImpact;
}

/** CISA BOD 26-04 remediation timeline for a vulnerability on an asset (informational). */
export function bod2604Timeline(i: Bod2604Inputs): Bod2604Timeline {
  const out = BOD_LOOKUP.get(
    `${i.inKev ? 'yes' : 'no'}|${i.publiclyExposed ? 'yes' : 'no'}|${i.automatable}|${i.technicalImpact}`,
  );
  if (out === undefined) throw new RangeError(`no BOD 26-04 table row for ${JSON.stringify(i)}`);
  return out;
}

export interface ExploitationEvidence {
  /** Listed in CISA KEV. */
  kev: boolean;
  /** EPSS probability, when known. */
  epss?: number | null;
  /** The advisory or NVD links a proof of concept / exploit. */
  pocReference: boolean;
  /** The CVSS vector's own exploit-maturity metric, when it has one. */
  cvss?: ParsedCvss | null;
}

/**
 * Exploitation: `active` when the CVE is in KEV (CISA's catalog is the "shared, observable,
 * reliable evidence" SSVC asks for); `public poc` when EPSS >= the policy threshold, a PoC/exploit
 * reference exists, or the vector's exploit maturity says a PoC exists (v3 E:P/F/H, v4 E:P/A,
 * v2 E:POC/F/H); else `none`.
 */
export function exploitationOf(ev: ExploitationEvidence, pocEpssThreshold: number): Exploitation {
  if (ev.kev) return 'active';
  if (ev.epss != null && ev.epss >= pocEpssThreshold) return 'public poc';
  if (ev.pocReference) return 'public poc';
  if (ev.cvss && vectorSaysExploitExists(ev.cvss)) return 'public poc';
  return 'none';
}

function vectorSaysExploitExists(p: ParsedCvss): boolean {
  const e = p.metrics['E'];
  if (e === undefined) return false;
  switch (p.version) {
    case '2.0':
      return e === 'POC' || e === 'F' || e === 'H';
    case '3.0':
    case '3.1':
      return e === 'P' || e === 'F' || e === 'H';
    case '4.0':
      return e === 'P' || e === 'A';
  }
}

/**
 * Automatable: `yes` when an unauthenticated network attacker needs nothing from a user and no
 * special conditions: v3 AV:N, AC:L, PR:N, UI:N; v4 AV:N, AC:L, AT:N, PR:N, UI:N (or the v4
 * supplemental metric AU:Y/AU:N when the scorer set it, which answers the question directly);
 * v2 AV:N, AC:L, Au:N. Without a vector: `no`.
 */
export function automatableFromCvss(p: ParsedCvss | null | undefined): Automatable {
  if (!p) return 'no';
  const m = p.metrics;
  switch (p.version) {
    case '2.0':
      return m['AV'] === 'N' && m['AC'] === 'L' && m['Au'] === 'N' ? 'yes' : 'no';
    case '3.0':
    case '3.1':
      return m['AV'] === 'N' && m['AC'] === 'L' && m['PR'] === 'N' && m['UI'] === 'N' ? 'yes' : 'no';
    case '4.0':
      if (m['AU'] === 'Y') return 'yes';
      if (m['AU'] === 'N') return 'no';
      return m['AV'] === 'N' && m['AC'] === 'L' && m['AT'] === 'N' && m['PR'] === 'N' && m['UI'] === 'N'
        ? 'yes'
        : 'no';
  }
}

/**
 * Technical Impact: `total` when the exploit gives high confidentiality AND high integrity impact on
 * the vulnerable component (v3 C:H and I:H; v4 VC:H and VI:H; v2 C:C and I:C), i.e. full control
 * or full disclosure; else `partial`. Without a vector: `partial`.
 */
export function technicalImpactFromCvss(p: ParsedCvss | null | undefined): TechnicalImpact {
  if (!p) return 'partial';
  const m = p.metrics;
  switch (p.version) {
    case '2.0':
      return m['C'] === 'C' && m['I'] === 'C' ? 'total' : 'partial';
    case '3.0':
    case '3.1':
      return m['C'] === 'H' && m['I'] === 'H' ? 'total' : 'partial';
    case '4.0':
      return m['VC'] === 'H' && m['VI'] === 'H' ? 'total' : 'partial';
  }
}

/**
 * Mission & Well-being from the host's criticality tier (1 = most critical) and exposure:
 * tier 1 -> high; tier 2 -> medium, high when internet-facing; tier 3 -> low, medium when
 * internet-facing; tier 4 -> low. Exposure raises one step because an internet-facing service
 * is part of what the organisation offers to others (SSVC's Public Well-being) and is reached
 * by anyone.
 */
export function missionWellbeingOf(
  host: Pick<HostContext, 'criticality' | 'internetFacing'>,
): MissionWellbeing {
  switch (host.criticality) {
    case 1:
      return 'high';
    case 2:
      return host.internetFacing ? 'high' : 'medium';
    case 3:
      return host.internetFacing ? 'medium' : 'low';
    case 4:
      return 'low';
  }
}

export interface Reference {
  type: string;
  url: string;
  /** NVD reference tags ("Exploit", "Patch", ...), when the source has them. */
  tags?: readonly string[];
}

const EXPLOIT_HOSTS = new Set([
  'www.exploit-db.com',
  'exploit-db.com',
  'packetstormsecurity.com',
  'packetstorm.news',
  'www.rapid7.com',
]);

/**
 * Whether a reference points at a proof of concept or an exploit: OSV type EVIDENCE, an NVD
 * "Exploit" tag, an Exploit-DB / Packet Storm page, a Rapid7 Metasploit module page or a file in
 * the metasploit-framework repository.
 */
export function isPocReference(ref: Reference): boolean {
  if (ref.type.toUpperCase() === 'EVIDENCE') return true;
  if (ref.tags?.some((t) => t.toLowerCase() === 'exploit')) return true;
  let url: URL;
  try {
    url = new URL(ref.url);
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  if (host === 'www.rapid7.com') return url.pathname.startsWith('/db/modules/');
  if (EXPLOIT_HOSTS.has(host)) return true;
  return host === 'github.com' && url.pathname.toLowerCase().startsWith('/rapid7/metasploit-framework/');
}
