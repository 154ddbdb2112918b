/**
 * LVFS/AppStream firmware metadata -> Advisory. Pure: the caller reads (and decompresses) the
 * bytes. Reads `firmware.xml` (`<components origin="lvfs">`, as LVFS serves it gzip'd or zstd'd)
 * and a single `*.metainfo.xml` `<component type="firmware">`.
 *
 * One advisory per release that lists `<issues>`: firmware is installed a release at a time, and
 * the release is what fixes them. For a release V of component C:
 *
 * - id `LVFS:<C>:<V>` (e.g. `LVFS:com.dell.uefi6180aaaa.firmware:P1.1`), source `lvfs`;
 * - `cves`: the `<issue type="cve">` ids; every issue id (CVE or a vendor's, such as Dell's
 *   `DSA-2020-001` or `INTEL-SA-00086`) is an alias, and an issue's `url` a reference;
 * - one affected entry per GUID the component flashes (`<provides><firmware type="flashed">`):
 *   ecosystem `fwupd`, or `fwupd:<format>` when the component names its version format
 *   (`LVFS::VersionFormat`; of several, the last one patchbot knows, as fwupd picks it); package
 *   the lower-case GUID; range `introduced 0, fixed V`; the release `urgency`.
 *
 * A component or release that breaks the schema is rejected (source, id, reason) and the rest of
 * the file still imports. A document with a DOCTYPE is refused whole: LVFS metadata has none, and
 * refusing it rules out entity expansion and external entities.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Advisory, AffectedEntry } from '../../core/model.js';
import { truncate } from '../../core/errors.js';
import { isFwupdVersionFormat, type FwupdVersionFormat } from '../../core/versions/fwupd.js';
import { checkAdvisory } from '../advisory-schema.js';
import { FIELD_LIMITS } from '../limits.js';
import { ADVISORY_ID_PATTERN, CVE_PATTERN, VERSION_PATTERN } from '../patterns.js';
import { describeZodError, type FeedRejection } from '../rejection.js';
import { LvfsComponent, LvfsRelease } from './schema.js';

export interface LvfsParseResult {
  advisories: Advisory[];
  rejections: FeedRejection[];
  /** Components read (with or without security releases). */
  components: number;
  /** Releases read, and how many of them list issues (became advisories or were rejected). */
  releases: number;
}

export class LvfsDocumentError extends Error {}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMPONENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;
const URGENCIES = new Set(['low', 'medium', 'high', 'critical']);

const ARRAYS = new Set([
  'component',
  'release',
  'issue',
  'firmware',
  'value',
  'name',
  'developer_name',
  'url',
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  alwaysCreateTextNode: true,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  stopNodes: ['*.description'],
  isArray: (tagName) => ARRAYS.has(tagName),
});

/** Whether a text looks like AppStream firmware metadata (for format detection). */
export function looksLikeLvfs(text: string): boolean {
  const head = text.slice(0, 64 * 1024).replace(/^\ufeff/, '');
  // A DOCTYPE is allowed here so that parseLvfsMetadata can refuse it by name.
  return /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE[^[>]*(?:\[[\s\S]*?\])?\s*>\s*)?(?:<!--[\s\S]*?-->\s*)*<(?:components|component)[\s>]/.test(
    head,
  );
}

function textOf(node: unknown): string | undefined {
  if (typeof node === 'string') return node;
  if (node !== null && typeof node === 'object' && '#text' in node) {
    const t = (node as { '#text'?: unknown })['#text'];
    return typeof t === 'string' ? t : undefined;
  }
  return undefined;
}

/** XML markup of a `<description>` -> plain text: paragraphs and list items on their own lines. */
function plainText(markup: string): string {
  return markup
    .replace(/<li[^>]*>/g, '\n- ')
    .replace(/<\/p>|<br\s*\/?>|<\/ul>|<\/ol>/g, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#(\d+);/g, (_m, d: string) => safeChar(Number(d)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => safeChar(Number.parseInt(h, 16)))
    .replace(/&amp;/g, '&')
    .split('\n')
    .map((l) => l.replace(/\s+/g, ' ').trim())
    .filter((l) => l !== '')
    .join('\n');
}

function safeChar(code: number): string {
  if (!Number.isInteger(code) || code < 0x20 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
    return '';
  return String.fromCodePoint(code);
}

function releaseDate(r: LvfsRelease): Date | undefined {
  if (r['@_date'] !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(r['@_date'])) {
    const d = new Date(`${r['@_date']}T00:00:00Z`);
    if (!Number.isNaN(d.getTime())) return d;
  }
  if (r['@_timestamp'] !== undefined && /^\d{1,12}$/.test(r['@_timestamp'])) {
    return new Date(Number(r['@_timestamp']) * 1000);
  }
  return undefined;
}

/** The component's version format: of several `LVFS::VersionFormat` values, the last one known. */
function versionFormatOf(component: LvfsComponent): FwupdVersionFormat | undefined {
  const values = (component.custom?.value ?? []).filter((v) => v['@_key'] === 'LVFS::VersionFormat');
  for (let i = values.length - 1; i >= 0; i--) {
    const name = values[i]['#text'];
    if (name !== undefined && isFwupdVersionFormat(name) && name !== 'unknown') return name;
  }
  return undefined;
}

function componentsOf(doc: unknown): unknown[] {
  if (doc === null || typeof doc !== 'object') return [];
  const root = doc as Record<string, unknown>;
  const components = root['components'];
  if (components !== undefined) {
    if (components !== null && typeof components === 'object' && !Array.isArray(components)) {
      const list = (components as Record<string, unknown>)['component'];
      return Array.isArray(list) ? list : [];
    }
    return [];
  }
  const single = root['component'];
  return Array.isArray(single) ? single : [];
}

/**
 * Parses metadata text. Throws LvfsDocumentError when the text is no well-formed AppStream
 * metadata (not XML, a DOCTYPE, no `<components>`/`<component>` root).
 */
export function parseLvfsMetadata(text: string, source: string, asOf: Date): LvfsParseResult {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new LvfsDocumentError(
      'XML with a DOCTYPE or ENTITY declaration is refused (LVFS metadata has none; entities are not expanded)',
    );
  }
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) {
    throw new LvfsDocumentError(
      `invalid XML at line ${valid.err.line} column ${valid.err.col}: ${truncate(valid.err.msg, 160)}`,
    );
  }
  const doc = parser.parse(text) as unknown;
  const raws = componentsOf(doc);
  if (raws.length === 0 && !looksLikeLvfs(text)) {
    throw new LvfsDocumentError('not AppStream firmware metadata (no <components> or <component> root)');
  }
  const out: LvfsParseResult = { advisories: [], rejections: [], components: 0, releases: 0 };
  raws.forEach((raw, index) => {
    out.components++;
    convertComponent(raw, index, source, asOf, out);
  });
  return out;
}

function convertComponent(
  raw: unknown,
  index: number,
  source: string,
  asOf: Date,
  out: LvfsParseResult,
): void {
  const parsed = LvfsComponent.safeParse(raw);
  const rawId = textOf((raw as { id?: unknown } | null)?.id);
  const recordId =
    rawId !== undefined && rawId !== ''
      ? truncate(rawId.replace(/[^\x20-\x7e]/g, '?'), 120)
      : `component[${index}]`;
  if (!parsed.success) {
    out.rejections.push({ source, recordId, reason: `invalid component: ${describeZodError(parsed.error)}` });
    return;
  }
  const c = parsed.data;
  if (c['@_type'] !== undefined && c['@_type'] !== 'firmware') return; // not firmware: nothing to match
  const id = c.id['#text'];
  if (id === undefined || !COMPONENT_ID.test(id)) {
    out.rejections.push({ source, recordId, reason: 'component <id> is missing or not a component id' });
    return;
  }
  const guids: string[] = [];
  for (const f of c.provides?.firmware ?? []) {
    if (f['@_type'] !== 'flashed') continue;
    const guid = f['#text']?.toLowerCase();
    if (guid === undefined || !GUID.test(guid)) {
      out.rejections.push({
        source,
        recordId: id,
        reason: `<provides><firmware type="flashed"> ${JSON.stringify(truncate(guid ?? '', 60))} is not a GUID; ignored`,
      });
      continue;
    }
    if (!guids.includes(guid)) guids.push(guid);
  }
  const format = versionFormatOf(c);
  const name = textOf(c.name?.[0]);
  for (const rawRelease of c.releases?.release ?? []) {
    out.releases++;
    const r = LvfsRelease.safeParse(rawRelease);
    if (!r.success) {
      const v = (rawRelease as { '@_version'?: unknown } | null)?.['@_version'];
      out.rejections.push({
        source,
        recordId: typeof v === 'string' ? `${id}:${truncate(v, 40)}` : id,
        reason: `invalid release: ${describeZodError(r.error)}`,
      });
      continue;
    }
    const advisory = toAdvisory(id, name, guids, format, r.data, source, asOf, out);
    if (advisory !== undefined) out.advisories.push(advisory);
  }
}

function toAdvisory(
  componentId: string,
  name: string | undefined,
  guids: readonly string[],
  format: FwupdVersionFormat | undefined,
  r: LvfsRelease,
  source: string,
  asOf: Date,
  out: LvfsParseResult,
): Advisory | undefined {
  const issues = r.issues?.issue ?? [];
  if (issues.length === 0) return undefined; // not a security release
  const version = r['@_version'];
  const recordId = `${componentId}:${truncate(version, 40)}`;
  const reject = (reason: string): undefined => {
    out.rejections.push({ source, recordId, reason });
    return undefined;
  };
  if (!VERSION_PATTERN.test(version))
    return reject(`release version ${JSON.stringify(truncate(version, 60))} is not a version string`);
  const id = `LVFS:${componentId}:${version}`;
  if (!ADVISORY_ID_PATTERN.test(id) || id.length > FIELD_LIMITS.id) {
    return reject(`release version ${JSON.stringify(version)} cannot be part of an advisory id`);
  }
  if (guids.length === 0)
    return reject('the component flashes no GUID (<provides><firmware type="flashed">): nothing to match');
  const cves: string[] = [];
  const aliases: string[] = [];
  const references: Advisory['references'] = [];
  for (const issue of issues) {
    const text = issue['#text']?.trim() ?? '';
    if (issue['@_type'] === 'cve') {
      if (!CVE_PATTERN.test(text)) {
        out.rejections.push({
          source,
          recordId,
          reason: `<issue type="cve"> ${JSON.stringify(truncate(text, 60))} is not a CVE id; ignored`,
        });
        continue;
      }
      if (!cves.includes(text)) cves.push(text);
    }
    if (text !== '' && ADVISORY_ID_PATTERN.test(text) && !aliases.includes(text)) aliases.push(text);
    const url = issue['@_url'];
    if (url !== undefined && /^https:\/\//.test(url)) references.push({ type: 'ADVISORY', url });
  }
  for (const u of r.url ?? []) {
    const url = u['#text'];
    if (u['@_type'] === 'details' && url !== undefined && /^https?:\/\//.test(url))
      references.push({ type: 'WEB', url });
  }
  const urgency = r['@_urgency'];
  const published = releaseDate(r);
  const entries: AffectedEntry[] = guids.map((guid) => {
    const entry: AffectedEntry = {
      ecosystem: format === undefined ? 'fwupd' : `fwupd:${format}`,
      package: guid,
      nameKind: 'binary',
      status: 'affected',
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: version }] }],
      versions: [],
    };
    if (urgency !== undefined && URGENCIES.has(urgency)) entry.urgency = urgency;
    return entry;
  });
  const description = r.description === undefined ? undefined : plainText(r.description);
  const advisory: Advisory = {
    id,
    source: 'lvfs',
    aliases,
    cves,
    published,
    modified: published ?? asOf,
    summary: truncate(
      `${name ?? componentId} firmware ${version}${cves.length > 0 ? ` fixes ${cves.join(', ')}` : ''}`,
      1000,
    ),
    details:
      description === undefined || description === ''
        ? undefined
        : truncate(description, FIELD_LIMITS.longText - 1),
    references,
    severity: [],
    affected: entries,
  };
  if (advisory.published === undefined) delete advisory.published;
  if (advisory.details === undefined) delete advisory.details;
  const invalid = checkAdvisory(advisory);
  if (invalid !== undefined) return reject(describeZodError(invalid));
  return advisory;
}
