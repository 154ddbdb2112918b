/**
 * A distribution's own severity of an issue, the stand-in for CVSS when a CVE has no CVSS score:
 * the Debian security tracker's urgency, Ubuntu's priority, the severity Red Hat (and Rocky Linux,
 * AlmaLinux) give their advisories. Each maps to the middle of the CVSS v3 qualitative band with
 * the same name (docs/risk.md, "Which CVSS score").
 */
import type { SeverityVector } from '../model.js';

/**
 * Pseudo base scores: the middle of the matching CVSS v3 band (low 0.1-3.9, medium 4.0-6.9, high
 * 7.0-8.9, critical 9.0-10). "unimportant" (Debian) and "negligible" (Ubuntu) mean the
 * distribution sees no real security risk in its build.
 */
const SCORE: Readonly<Record<string, number>> = {
  unimportant: 0,
  negligible: 0,
  low: 2,
  medium: 5.5,
  moderate: 5.5,
  high: 8,
  important: 8,
  critical: 9.5,
};

export interface DistributionSeverity {
  /** "Debian urgency high", "Ubuntu priority medium", "Red Hat severity important". */
  label: string;
  /** The pseudo CVSS base score 0-10. */
  score: number;
}

/** "Debian urgency", "Ubuntu priority", "Red Hat severity"... for an OSV ecosystem. */
function wordFor(ecosystem: string | undefined): string {
  const base = ecosystem?.split(':')[0] ?? '';
  switch (base) {
    case 'Debian':
      return 'Debian urgency';
    case 'Ubuntu':
      return 'Ubuntu priority';
    case 'Red Hat':
    case 'Rocky Linux':
    case 'AlmaLinux':
      return `${base} severity`;
    default:
      return 'distribution urgency';
  }
}

/** A severity word as a key of SCORE: "high**" (tracker) -> "high"; anything else unknown -> undefined. */
export function normaliseSeverityWord(word: string | null | undefined): string | undefined {
  if (word == null) return undefined;
  const key = word.replace(/\*+$/, '').trim().toLowerCase();
  return Object.hasOwn(SCORE, key) ? key : undefined;
}

/**
 * The distribution's severity, when it gave one: the entry's own urgency first (per package and
 * release), then an advisory-level Ubuntu priority. "not yet assigned", "end-of-life" and other
 * words that say nothing about severity give undefined.
 */
export function distributionSeverity(input: {
  urgency?: string | null;
  advisorySeverity?: readonly SeverityVector[];
  ecosystem?: string;
}): DistributionSeverity | undefined {
  const urgency = normaliseSeverityWord(input.urgency);
  if (urgency !== undefined) {
    return { label: `${wordFor(input.ecosystem)} ${urgency}`, score: SCORE[urgency] ?? 0 };
  }
  for (const v of input.advisorySeverity ?? []) {
    if (v.type.toLowerCase() !== 'ubuntu') continue;
    const priority = normaliseSeverityWord(v.score);
    if (priority !== undefined) return { label: `Ubuntu priority ${priority}`, score: SCORE[priority] ?? 0 };
  }
  return undefined;
}
