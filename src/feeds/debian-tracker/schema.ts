/**
 * The Debian security tracker's `/tracker/data/json`: source package -> issue id (CVE-..., or a
 * TEMP-... id for issues without a CVE) -> { description, debianbug, scope, releases: { codename:
 * { status, fixed_version, urgency, repositories, nodsa, nodsa_reason } } }.
 * The top level is read as a plain object and each (package, issue) entry is checked on its own,
 * so one bad entry costs only itself.
 */
import { z } from 'zod';
import { FIELD_LIMITS } from '../limits.js';

export const TrackerRelease = z.object({
  status: z.string().max(64),
  fixed_version: z.string().max(FIELD_LIMITS.version).optional(),
  urgency: z.string().max(64).optional(),
  repositories: z
    .union([z.record(z.string().max(128), z.string().max(FIELD_LIMITS.version)), z.array(z.never())])
    .optional(),
  nodsa: z.string().max(FIELD_LIMITS.shortText).optional(),
  nodsa_reason: z.string().max(64).optional(),
});
export type TrackerRelease = z.infer<typeof TrackerRelease>;

export const TrackerIssue = z.object({
  description: z.string().max(FIELD_LIMITS.longText).optional(),
  debianbug: z.number().int().nonnegative().optional(),
  scope: z.string().max(64).optional(),
  // The tracker writes an empty object as `[]` (PHP-style) when an issue has no release data.
  releases: z.union([z.record(z.string().max(64), z.unknown()), z.array(z.never())]),
});
export type TrackerIssue = z.infer<typeof TrackerIssue>;

/** Issue ids the tracker uses: CVE ids and TEMP-NNNNNNN-XXXXXX placeholders. */
export const TRACKER_ISSUE_ID = /^(?:CVE-\d{4}-\d{4,19}|TEMP-\d{7}-[0-9A-F]{6})$/;
