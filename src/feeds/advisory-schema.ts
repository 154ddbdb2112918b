/**
 * The last check before a sink sees an Advisory: every parser's output passes through
 * `assertAdvisory`, so a sink is never called with a record that breaks the shared contract, and a
 * PostgreSQL sink can trust the shape without checking it again.
 */
import { z } from 'zod';
import type { Advisory } from '../core/model.js';
import { FIELD_LIMITS } from './limits.js';
import { AdvisoryId, CveId, PackageName, VersionString } from './patterns.js';

const RangeEvent = z.union([
  z.strictObject({ introduced: VersionString }),
  z.strictObject({ fixed: VersionString }),
  z.strictObject({ last_affected: VersionString }),
  z.strictObject({ limit: VersionString }),
]);

const AffectedEntrySchema = z.object({
  ecosystem: z.string().min(1).max(FIELD_LIMITS.name),
  package: PackageName,
  nameKind: z.enum(['source', 'binary']),
  status: z.enum(['affected', 'not-affected', 'unfixed', 'no-dsa', 'ignored', 'postponed']),
  ranges: z.array(z.object({ type: z.enum(['ECOSYSTEM', 'SEMVER', 'GIT']), events: z.array(RangeEvent) })),
  versions: z.array(VersionString),
  binaries: z.array(PackageName).optional(),
  urgency: z.string().max(FIELD_LIMITS.name).optional(),
});

export const AdvisoryRecord = z.object({
  id: AdvisoryId,
  source: z.enum(['osv', 'debian-tracker', 'alpine-secdb', 'lvfs']),
  aliases: z.array(AdvisoryId),
  cves: z.array(CveId),
  published: z.date().optional(),
  modified: z.date(),
  withdrawn: z.date().optional(),
  summary: z.string().max(FIELD_LIMITS.shortText),
  details: z.string().max(FIELD_LIMITS.longText).optional(),
  references: z.array(
    z.object({ type: z.string().max(FIELD_LIMITS.name), url: z.string().max(FIELD_LIMITS.url) }),
  ),
  severity: z.array(
    z.object({ type: z.string().max(FIELD_LIMITS.name), score: z.string().max(FIELD_LIMITS.name) }),
  ),
  affected: z.array(AffectedEntrySchema),
});

/** Whether `value` is a well-formed Advisory; the zod error otherwise. */
export function checkAdvisory(value: Advisory): z.ZodError | undefined {
  const result = AdvisoryRecord.safeParse(value);
  return result.success ? undefined : result.error;
}
