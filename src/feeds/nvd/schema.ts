/** NVD CVE API 2.0 (https://nvd.nist.gov/developers/vulnerabilities): the parts patchbot reads. */
import { z } from 'zod';
import { FIELD_LIMITS } from '../limits.js';
import { CveId } from '../patterns.js';

export const NvdMetric = z.object({
  source: z.string().max(FIELD_LIMITS.name),
  type: z.enum(['Primary', 'Secondary']),
  cvssData: z.object({
    version: z.string().max(8),
    vectorString: z.string().max(FIELD_LIMITS.name),
    baseScore: z.number(),
    baseSeverity: z.string().max(16).optional(),
  }),
  /** CVSS v2 keeps its severity outside cvssData. */
  baseSeverity: z.string().max(16).optional(),
});
export type NvdMetric = z.infer<typeof NvdMetric>;

export const NvdCve = z.object({
  id: CveId,
  vulnStatus: z.string().max(64).optional(),
  lastModified: z.string().max(64).optional(),
  metrics: z.record(z.string().max(64), z.array(z.unknown()).max(1000)).optional(),
});
export type NvdCve = z.infer<typeof NvdCve>;

export const NvdResponse = z.object({
  resultsPerPage: z.number().int().nonnegative().optional(),
  startIndex: z.number().int().nonnegative().optional(),
  totalResults: z.number().int().nonnegative().optional(),
  vulnerabilities: z.array(z.object({ cve: z.unknown() })),
});
export type NvdResponse = z.infer<typeof NvdResponse>;
