import { z } from 'zod';

/**
 * The risk section of the policy file (`risk:` in patchbot.yaml). Every number has a default; the
 * reasons for the defaults are in docs/risk.md. Weights are the most points a factor can add (or,
 * for compensating controls and a missing fix, take away) on the 0-100 scale.
 */
export const RiskWeights = z
  .object({
    /** CVSS base score 0-10, scaled to 0..cvss points. */
    cvss: z.number().min(0).max(100).default(35),
    /** EPSS probability of exploitation in the next 30 days. */
    epss: z.number().min(0).max(100).default(20),
    /** Listed in CISA KEV: exploited in the wild. */
    kev: z.number().min(0).max(100).default(25),
    /** KEV says it is known to be used in ransomware campaigns. */
    ransomware: z.number().min(0).max(100).default(5),
    /** Asset criticality tier 1 (most critical) gets all points, tier 4 none. */
    criticality: z.number().min(0).max(100).default(10),
    /** Host is internet-facing. */
    exposure: z.number().min(0).max(100).default(10),
    /** Points taken away when the host lists compensating controls (WAF, segmentation...). */
    compensatingControls: z.number().min(0).max(100).default(10),
    /** Points taken away when no fixed version exists yet (nothing to deploy; track instead). */
    noFix: z.number().min(0).max(100).default(5),
  })
  .strict();
export type RiskWeights = z.infer<typeof RiskWeights>;

/** Risk score bands: a score at or above a band's lower bound belongs to it. */
export const RiskBands = z
  .object({
    critical: z.number().min(0).max(100).default(75),
    high: z.number().min(0).max(100).default(50),
    medium: z.number().min(0).max(100).default(25),
  })
  .strict()
  .refine((b) => b.critical > b.high && b.high > b.medium, {
    message: 'bands must be ordered critical > high > medium',
  });
export type RiskBands = z.infer<typeof RiskBands>;

/** Days to remediate per severity band, when the CVE is not in KEV (KEV's own due date wins). */
export const SlaDays = z
  .object({
    critical: z.number().int().positive().default(14),
    high: z.number().int().positive().default(30),
    medium: z.number().int().positive().default(60),
    low: z.number().int().positive().default(180),
  })
  .strict();
export type SlaDays = z.infer<typeof SlaDays>;

export const RiskPolicy = z
  .object({
    weights: RiskWeights.default(RiskWeights.parse({})),
    bands: RiskBands.default(RiskBands.parse({})),
    slaDays: SlaDays.default(SlaDays.parse({})),
    /** A finding is re-announced when its score rises by at least this many points. */
    escalationDelta: z.number().min(1).max(100).default(15),
    /** ...or when its EPSS probability rises past this value. */
    epssEscalation: z.number().min(0).max(1).default(0.5),
    /**
     * SSVC Exploitation is "public poc" when the EPSS probability is at least this value (and no KEV
     * entry makes it "active"). A PoC reference in the advisory also counts.
     */
    pocEpssThreshold: z.number().min(0).max(1).default(0.1),
    /**
     * The CVSS-like base score used when a CVE has no CVSS score and its distribution gives no
     * severity either: unknown is not zero. 7.0, the start of the high band, is about the median base
     * score of the CVEs NVD scores (docs/risk.md).
     */
    unknownCvss: z.number().min(0).max(10).default(7),
    /**
     * Days to fix a KEV finding first seen after CISA's own due date had passed (KEV's date stays
     * the deadline otherwise): discovering a host late does not make its finding years overdue.
     */
    kevSlaDays: z.number().int().positive().default(7),
  })
  .strict();
export type RiskPolicy = z.infer<typeof RiskPolicy>;

export const DEFAULT_RISK_POLICY: RiskPolicy = RiskPolicy.parse({});
