/**
 * LVFS/AppStream firmware metadata (https://lvfs.readthedocs.io/en/latest/metainfo.html), as
 * fast-xml-parser gives it (attributes as `@_name`, text as `#text`), as far as patchbot reads
 * it. Unknown elements are ignored; every kept string has a cap.
 */
import { z } from 'zod';
import { FIELD_LIMITS } from '../limits.js';

const list = <T extends z.ZodType>(item: T) => z.array(item).max(FIELD_LIMITS.listItems);
const Str = (max: number) => z.string().max(max);

/** An element with text and attributes: `<issue type="cve">CVE-…</issue>`. */
const TextNode = z.object({ '#text': Str(FIELD_LIMITS.name).optional() }).catchall(z.unknown());

export const LvfsIssue = z.object({
  '#text': Str(FIELD_LIMITS.id).optional(),
  '@_type': Str(64).optional(),
  '@_url': Str(FIELD_LIMITS.url).optional(),
});

export const LvfsRelease = z.object({
  '@_version': Str(FIELD_LIMITS.version),
  '@_date': Str(64).optional(),
  '@_timestamp': Str(32).optional(),
  '@_urgency': Str(64).optional(),
  // A stop node: the markup inside <description> as text (with alwaysCreateTextNode, under #text).
  description: z
    .preprocess(
      (v) => (v !== null && typeof v === 'object' && '#text' in v ? v['#text'] : v),
      Str(FIELD_LIMITS.longText),
    )
    .optional(),
  issues: z.object({ issue: list(LvfsIssue).optional() }).optional(),
  url: list(z.object({ '#text': Str(FIELD_LIMITS.url).optional(), '@_type': Str(64).optional() })).optional(),
});
export type LvfsRelease = z.infer<typeof LvfsRelease>;

export const LvfsComponent = z.object({
  '@_type': Str(64).optional(),
  id: z.object({ '#text': Str(FIELD_LIMITS.id).optional() }),
  name: list(TextNode).optional(),
  developer_name: list(TextNode).optional(),
  provides: z
    .object({
      firmware: list(
        z.object({ '#text': Str(FIELD_LIMITS.name).optional(), '@_type': Str(64).optional() }),
      ).optional(),
    })
    .optional(),
  custom: z
    .object({
      value: list(
        z.object({ '#text': Str(FIELD_LIMITS.name).optional(), '@_key': Str(FIELD_LIMITS.name).optional() }),
      ).optional(),
    })
    .optional(),
  releases: z.object({ release: list(z.unknown()).optional() }).optional(),
});
export type LvfsComponent = z.infer<typeof LvfsComponent>;
