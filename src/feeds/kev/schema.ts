/** CISA's Known Exploited Vulnerabilities catalog (cisagov/kev-data, known_exploited_vulnerabilities_schema.json). */
import { z } from 'zod';
import { FIELD_LIMITS } from '../limits.js';
import { CveId, DateOnly } from '../patterns.js';

const text = z.string().max(FIELD_LIMITS.shortText);

export const KevVulnerability = z.object({
  cveID: CveId,
  vendorProject: text,
  product: text,
  vulnerabilityName: text,
  dateAdded: DateOnly,
  shortDescription: text,
  requiredAction: text,
  dueDate: DateOnly,
  knownRansomwareCampaignUse: z.string().max(64).optional(),
  notes: z.string().max(FIELD_LIMITS.longText).optional(),
  cwes: z.array(z.string().max(32)).max(1000).optional(),
});
export type KevVulnerability = z.infer<typeof KevVulnerability>;

/** The catalog's envelope; each vulnerability is checked on its own. */
export const KevCatalog = z.object({
  title: z.string().max(FIELD_LIMITS.shortText).optional(),
  catalogVersion: z.string().max(64),
  dateReleased: z.string().max(64).optional(),
  count: z.number().int().nonnegative().optional(),
  vulnerabilities: z.array(z.unknown()),
});
export type KevCatalog = z.infer<typeof KevCatalog>;
