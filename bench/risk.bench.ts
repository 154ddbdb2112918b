/**
 * Risk scoring throughput: 1,000,000 findings through one assessor (as a fleet re-score does),
 * each with 1-3 CVEs drawn from 2,000 CVEs that carry real-shaped CVSS v3.1/v4.0 vectors, EPSS
 * and (for some) KEV entries, over hosts of every tier and exposure.
 */
import type { CveEnrichment, CvssScore } from '../src/core/model.js';
import { DEFAULT_RISK_POLICY } from '../src/core/risk/policy.js';
import { createRiskAssessor, type RiskInput } from '../src/core/risk/score.js';

const FINDINGS = 1_000_000;
const CVES = 2_000;

/** Small deterministic PRNG (mulberry32) so every run scores the same inputs. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function run(): Promise<void> {
  const rand = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const v3 = (): CvssScore => ({
    version: '3.1',
    vector: `CVSS:3.1/AV:${pick(['N', 'A', 'L', 'P'])}/AC:${pick(['L', 'H'])}/PR:${pick(['N', 'L', 'H'])}/UI:${pick(['N', 'R'])}/S:${pick(['U', 'C'])}/C:${pick(['N', 'L', 'H'])}/I:${pick(['N', 'L', 'H'])}/A:${pick(['N', 'L', 'H'])}`,
    baseScore: 0,
    severity: 'NONE',
    source: 'nvd@nist.gov',
    primary: true,
  });
  const v4 = (): CvssScore => ({
    version: '4.0',
    vector: `CVSS:4.0/AV:${pick(['N', 'A', 'L', 'P'])}/AC:${pick(['L', 'H'])}/AT:${pick(['N', 'P'])}/PR:${pick(['N', 'L', 'H'])}/UI:${pick(['N', 'P', 'A'])}/VC:${pick(['N', 'L', 'H'])}/VI:${pick(['N', 'L', 'H'])}/VA:${pick(['N', 'L', 'H'])}/SC:N/SI:N/SA:N`,
    baseScore: 0,
    severity: 'NONE',
    source: 'cna@example.org',
    primary: false,
  });
  const cves: CveEnrichment[] = [];
  for (let i = 0; i < CVES; i++) {
    const c: CveEnrichment = {
      cve: `CVE-2024-${String(10000 + i)}`,
      cvss: rand() < 0.8 ? [v3(), ...(rand() < 0.3 ? [v4()] : [])] : [v4()],
      epss: { score: rand() ** 6, percentile: rand(), date: '2025-08-15' },
    };
    if (rand() < 0.05) {
      c.kev = {
        dateAdded: '2024-03-01',
        dueDate: '2024-03-22',
        knownRansomware: rand() < 0.2,
        vendor: 'v',
        product: 'p',
        name: 'n',
        requiredAction: 'apply updates',
      };
    }
    cves.push(c);
  }
  const inputs: RiskInput[] = [];
  const firstSeen = new Date('2025-08-01T00:00:00Z');
  for (let i = 0; i < 10_000; i++) {
    const n = 1 + Math.floor(rand() * 3);
    inputs.push({
      cves: Array.from({ length: n }, () => pick(cves)),
      host: {
        criticality: pick([1, 2, 3, 4] as const),
        internetFacing: rand() < 0.2,
        compensatingControls: rand() < 0.1 ? ['waf'] : [],
      },
      fixAvailable: rand() < 0.9,
      firstSeen,
    });
  }

  const assess = createRiskAssessor(DEFAULT_RISK_POLICY);
  const now = new Date('2025-08-20T00:00:00Z');
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  let checksum = 0;
  for (let i = 0; i < FINDINGS; i++) checksum += assess(inputs[i % inputs.length], now).score;
  const ms = performance.now() - started;
  const heapAfter = process.memoryUsage().heapUsed;
  console.log(
    `risk: ${FINDINGS.toLocaleString('en')} findings (${CVES} CVEs, 1-3 per finding) in ${(ms / 1000).toFixed(2)} s` +
      ` = ${Math.round(FINDINGS / (ms / 1000)).toLocaleString('en')} findings/s` +
      ` (heap +${Math.round((heapAfter - heapBefore) / 2 ** 20)} MiB, checksum ${checksum.toFixed(1)})`,
  );
  await Promise.resolve();
}
