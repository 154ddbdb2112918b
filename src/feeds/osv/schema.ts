/**
 * OSV 1.x records (https://ossf.github.io/osv-schema/), as far as patchbot reads them. Unknown
 * keys are ignored; every string that is kept has a length cap; versions and package names follow
 * the strict patterns of src/feeds/patterns.ts.
 */
import { z } from 'zod';
import { FIELD_LIMITS } from '../limits.js';
import { AdvisoryId, PackageName, Timestamp, VersionString } from '../patterns.js';

const list = <T extends z.ZodType>(item: T) => z.array(item).max(FIELD_LIMITS.listItems);

export const OsvEvent = z.union(
  [
    z.strictObject({ introduced: VersionString }),
    z.strictObject({ fixed: VersionString }),
    z.strictObject({ last_affected: VersionString }),
    z.strictObject({ limit: VersionString }),
  ],
  {
    error: 'an event must have exactly one of introduced, fixed, last_affected, limit with a version string',
  },
);
export type OsvEvent = z.infer<typeof OsvEvent>;

export const OsvRange = z.object({
  type: z.enum(['ECOSYSTEM', 'SEMVER', 'GIT']),
  repo: z.string().max(FIELD_LIMITS.url).optional(),
  events: list(OsvEvent).min(1),
});
export type OsvRange = z.infer<typeof OsvRange>;

export const OsvSeverity = z.object({
  type: z.string().min(1).max(FIELD_LIMITS.name),
  score: z.string().min(1).max(FIELD_LIMITS.name),
});
export type OsvSeverity = z.infer<typeof OsvSeverity>;

/** Free-form objects (`ecosystem_specific`, `database_specific`): only the keys we use are checked. */
const FreeForm = z.record(z.string(), z.unknown());

export const OsvAffected = z.object({
  package: z
    .object({
      ecosystem: z.string().min(1).max(FIELD_LIMITS.name),
      // Checked against PackageName once the ecosystem is known to be one patchbot matches.
      name: z.string().min(1).max(FIELD_LIMITS.name),
      purl: z.string().max(FIELD_LIMITS.url).optional(),
    })
    .optional(),
  severity: list(OsvSeverity).optional(),
  ranges: list(OsvRange).optional(),
  versions: list(VersionString).optional(),
  ecosystem_specific: FreeForm.optional(),
  database_specific: FreeForm.optional(),
});
export type OsvAffected = z.infer<typeof OsvAffected>;

export const OsvRecord = z.object({
  schema_version: z.string().max(32).optional(),
  id: AdvisoryId,
  modified: Timestamp,
  published: Timestamp.optional(),
  withdrawn: Timestamp.optional(),
  aliases: list(AdvisoryId).nullish(),
  upstream: list(AdvisoryId).nullish(),
  related: list(z.string().max(FIELD_LIMITS.id)).nullish(),
  summary: z.string().max(FIELD_LIMITS.shortText).optional(),
  details: z.string().max(FIELD_LIMITS.longText).optional(),
  severity: list(OsvSeverity).nullish(),
  affected: list(OsvAffected).nullish(),
  references: list(
    z.object({ type: z.string().max(FIELD_LIMITS.name), url: z.string().max(FIELD_LIMITS.url) }),
  ).nullish(),
  database_specific: FreeForm.optional(),
});
export type OsvRecord = z.infer<typeof OsvRecord>;

/** Ubuntu's `ecosystem_specific.binaries`. */
export const UbuntuBinaries = z.array(
  z.object({ binary_name: PackageName, binary_version: VersionString.optional() }),
);

/** Debian's urgency, kept where OSV exporters put it. */
export const DebianUrgency = z.string().max(64);
