/**
 * CVSS vectors: strict validation and scores through the maintained `ae-cvss-calculator`
 * (metaeffekt; CVSS 2.0, 3.0, 3.1 and 4.0, the 4.0 MacroVector tables of the FIRST reference
 * calculator). The calculator itself is lenient (it accepts repeated metrics, missing base metrics
 * and unknown version prefixes), so the grammar is checked here first and the calculator only
 * scores vectors that passed.
 */
import cvssCalculator from 'ae-cvss-calculator';

import { truncate, ValidationError } from '../errors.js';
import type { CvssScore } from '../model.js';

export type CvssVersion = CvssScore['version'];
export type CvssSeverity = CvssScore['severity'];

export interface ParsedCvss {
  version: CvssVersion;
  /** The vector as given (trimmed; v2 parentheses removed). */
  vector: string;
  /** Base score: base metrics only (CVSS-B for 4.0), 0.0-10.0. */
  baseScore: number;
  /**
   * The score of the whole vector: equals `baseScore` unless the vector carries temporal/threat or
   * environmental metrics (v3 temporal score, v4 CVSS-BT/BE/BTE, v2 temporal/environmental).
   */
  score: number;
  /** Qualitative rating of `baseScore` (v3/v4 scale; NVD's LOW/MEDIUM/HIGH for v2). */
  severity: CvssSeverity;
  /** Metric abbreviation -> value, exactly as given: { AV: 'N', AC: 'L', ... }. */
  metrics: Readonly<Record<string, string>>;
}

/** Longest vector accepted: a 4.0 vector with every base, threat, environmental and supplemental metric is ~250. */
const MAX_VECTOR_LENGTH = 512;

const REQUIRED_BASE: Record<CvssVersion, readonly string[]> = {
  '2.0': ['AV', 'AC', 'Au', 'C', 'I', 'A'],
  '3.0': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '3.1': ['AV', 'AC', 'PR', 'UI', 'S', 'C', 'I', 'A'],
  '4.0': ['AV', 'AC', 'AT', 'PR', 'UI', 'VC', 'VI', 'VA', 'SC', 'SI', 'SA'],
};

const PREFIX = /^CVSS:(\d+\.\d+)\//;
const METRIC = /^([A-Za-z]{1,4}):([A-Za-z]{1,4})$/;

function invalid(vector: string, reason: string): ValidationError {
  const shown = JSON.stringify(truncate(vector, 120));
  return new ValidationError(`invalid CVSS vector ${shown}: ${reason}`, {
    details: { vector: truncate(vector, 200), reason },
  });
}

/**
 * Validates a CVSS vector string and computes its scores.
 * @throws ValidationError naming the vector and the problem (unknown version, unknown metric or
 *   value, repeated metric, missing base metric).
 */
export function parseCvss(vector: string): ParsedCvss {
  if (typeof vector !== 'string') throw invalid(String(vector), 'not a string');
  if (vector.length > MAX_VECTOR_LENGTH) throw invalid(vector, `longer than ${MAX_VECTOR_LENGTH} characters`);
  let text = vector.trim();
  if (text === '') throw invalid(vector, 'empty');

  let version: CvssVersion;
  let body: string;
  const prefix = PREFIX.exec(text);
  if (prefix) {
    const v = prefix[1];
    if (v !== '3.0' && v !== '3.1' && v !== '4.0') {
      throw invalid(vector, `unsupported CVSS version ${v} (supported: 2.0 without prefix, 3.0, 3.1, 4.0)`);
    }
    version = v;
    body = text.slice(prefix[0].length);
  } else if (text.startsWith('CVSS:')) {
    throw invalid(vector, 'malformed version prefix (expected "CVSS:3.0/", "CVSS:3.1/" or "CVSS:4.0/")');
  } else {
    // CVSS v2 has no prefix; NVD's older data sometimes wraps it in parentheses.
    if (text.startsWith('(') && text.endsWith(')')) text = text.slice(1, -1);
    version = '2.0';
    body = text;
  }

  const metrics: Record<string, string> = {};
  for (const part of body.split('/')) {
    const m = METRIC.exec(part);
    if (!m)
      throw invalid(vector, `malformed metric ${JSON.stringify(truncate(part, 40))} (expected NAME:VALUE)`);
    const [, name, value] = m as unknown as [string, string, string];
    if (Object.hasOwn(metrics, name)) throw invalid(vector, `metric ${name} given more than once`);
    metrics[name] = value;
  }
  const missing = REQUIRED_BASE[version].filter((k) => !Object.hasOwn(metrics, k));
  if (missing.length > 0)
    throw invalid(vector, `missing base metric(s) ${missing.join(', ')} for CVSS ${version}`);

  const canonical = version === '2.0' ? body : `CVSS:${version}/${body}`;
  let baseScore: number | undefined;
  let score: number;
  try {
    switch (version) {
      case '2.0': {
        const c = new cvssCalculator.Cvss2(canonical);
        if (!c.isBaseFullyDefined()) throw new Error('base metrics not defined');
        const r = c.calculateScores();
        baseScore = r.base;
        score = r.overall;
        break;
      }
      case '3.0':
      case '3.1': {
        const c =
          version === '3.0' ? new cvssCalculator.Cvss3P0(canonical) : new cvssCalculator.Cvss3P1(canonical);
        if (!c.isBaseFullyDefined()) throw new Error('base metrics not defined');
        const r = c.calculateScores();
        baseScore = r.base;
        score = r.overall;
        break;
      }
      case '4.0': {
        const c = new cvssCalculator.Cvss4P0(canonical);
        if (!c.isBaseFullyDefined()) throw new Error('base metrics not defined');
        const r = c.calculateScores();
        baseScore = r.baseMetricsOnly;
        score = r.overall;
        break;
      }
    }
  } catch (err) {
    throw invalid(vector, calculatorReason(err));
  }
  if (typeof baseScore !== 'number' || !Number.isFinite(baseScore) || !Number.isFinite(score)) {
    throw invalid(vector, 'no base score could be computed');
  }
  return {
    version,
    vector: canonical,
    baseScore,
    score,
    severity: cvssSeverity(version, baseScore),
    metrics,
  };
}

function calculatorReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'base metrics not defined') return 'a base metric has the value X (not defined)';
  // The calculator's messages name the component and value ("Unknown component value Q for component AV").
  return truncate(message, 120);
}

/**
 * Qualitative severity of a score. v3.x/v4.0 use FIRST's rating scale (0 none, 0.1-3.9 low,
 * 4.0-6.9 medium, 7.0-8.9 high, 9.0-10 critical); v2 has no such scale in its specification and
 * NVD's v2 ranges (0-3.9 low, 4.0-6.9 medium, 7.0-10 high) are used.
 */
export function cvssSeverity(version: CvssVersion, score: number): CvssSeverity {
  if (version === '2.0') {
    if (score >= 7) return 'HIGH';
    if (score >= 4) return 'MEDIUM';
    return 'LOW';
  }
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  if (score > 0) return 'LOW';
  return 'NONE';
}
