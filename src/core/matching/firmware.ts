/**
 * Firmware findings: fwupd devices (GUIDs, version, version format) against LVFS firmware
 * advisories (src/feeds/lvfs: one advisory per release, ecosystem `fwupd[:<format>]`, the GUID
 * as package name, fixed in that release). Pure.
 *
 * - A device matches an advisory entry through any of its GUIDs.
 * - Versions compare as fwupd compares them (fu_version_compare) in the device's version format.
 *   As fwupd does, a format named by the metadata (`fwupd:<format>`) overrides the device's, and
 *   when the two differ the device's raw version (VersionRaw) is printed again in the metadata's
 *   format; a release version that is a plain number is read in that format too
 *   (fu_version_parse_from_format).
 * - The fix offered for each issue (CVE or vendor id) is the lowest release above the installed
 *   version that resolves it; the issues are then grouped by that release: one match per release
 *   to install, naming the issues it is the lowest fix for. A release whose issues are all fixed
 *   lower down gives no match of its own.
 * - A device without a version cannot be compared: each such device with candidate advisories is
 *   reported in `warnings` (not evaluated is not safe).
 */
import type { Advisory, AffectedEntry, FirmwareDevice } from '../model.js';
import {
  compareFwupdVersions,
  fwupdVersionFromRaw,
  isFwupdVersionFormat,
  isValidFwupd,
  parseFwupd,
  parseFwupdVersionFromFormat,
  type FwupdVersionFormat,
} from '../versions/fwupd.js';
import { fixedVersionForPrepared, isAffectedPrepared, prepareRanges } from '../versions/osv-range.js';
import type { VersionSchemeImpl } from '../versions/scheme.js';
import { InvalidVersionError, userMessageOf } from '../errors.js';

export interface FirmwareMatch {
  readonly device: FirmwareDevice;
  /** The GUID the device matched by. */
  readonly guid: string;
  /** The advisory of the release to install (`LVFS:<component>:<version>`). */
  readonly advisoryId: string;
  /** The release to install: the lowest above the installed version that resolves `issues`. */
  readonly fixedVersion: string;
  /** The version compared (the device's, or its raw version printed in the metadata's format). */
  readonly installedVersion: string;
  /** The format the versions were compared in. */
  readonly versionFormat: FwupdVersionFormat;
  /** The CVEs this release is the lowest fix for on this device. */
  readonly cves: readonly string[];
  /** Every issue id (CVE or vendor) this release is the lowest fix for. */
  readonly issues: readonly string[];
  readonly urgency?: string;
  /** Whether fwupd can update this device (its `updatable` flag). */
  readonly updatable: boolean;
}

export interface FirmwareMatchWarning {
  /** The device, when the warning is about one (absent for an advisory the index could not read). */
  deviceId?: string;
  device?: string;
  advisoryId?: string;
  message: string;
}

interface IndexedEntry {
  advisory: Advisory;
  entry: AffectedEntry;
  /** The format the metadata names, if any. */
  format: FwupdVersionFormat | undefined;
}

export interface FirmwareAdvisoryIndex {
  /** lower-case GUID -> entries. */
  readonly byGuid: ReadonlyMap<string, readonly IndexedEntry[]>;
  readonly warnings: readonly FirmwareMatchWarning[];
}

/** `fwupd` -> no format; `fwupd:dell-bios` -> dell-bios; anything else -> not a firmware entry. */
function formatOfEcosystem(ecosystem: string): { firmware: boolean; format?: FwupdVersionFormat } {
  if (ecosystem === 'fwupd') return { firmware: true };
  const m = /^fwupd:(.+)$/.exec(ecosystem);
  if (m === null) return { firmware: false };
  return isFwupdVersionFormat(m[1]) && m[1] !== 'unknown'
    ? { firmware: true, format: m[1] }
    : { firmware: true };
}

/** Firmware entries of the advisories, by GUID. Withdrawn advisories are left out. */
export function buildFirmwareIndex(advisories: readonly Advisory[]): FirmwareAdvisoryIndex {
  const byGuid = new Map<string, IndexedEntry[]>();
  const warnings: FirmwareMatchWarning[] = [];
  for (const advisory of advisories) {
    if (advisory.withdrawn !== undefined) continue;
    for (const entry of advisory.affected) {
      const eco = formatOfEcosystem(entry.ecosystem);
      if (!eco.firmware) continue;
      if (entry.status !== 'affected') continue;
      if (/^fwupd:/.test(entry.ecosystem) && eco.format === undefined) {
        warnings.push({
          advisoryId: advisory.id,
          message: `advisory ${advisory.id}: unknown version format in ${JSON.stringify(entry.ecosystem)}; compared in the device's format`,
        });
      }
      const guid = entry.package.toLowerCase();
      let list = byGuid.get(guid);
      if (list === undefined) byGuid.set(guid, (list = []));
      list.push({ advisory, entry, format: eco.format });
    }
  }
  return { byGuid, warnings };
}

const schemes = new Map<FwupdVersionFormat, VersionSchemeImpl>();

/** fwupd's ordering for one version format, as a scheme the OSV range evaluation takes. */
function schemeFor(format: FwupdVersionFormat): VersionSchemeImpl {
  let impl = schemes.get(format);
  if (impl === undefined) {
    impl = {
      name: 'fwupd',
      parse: parseFwupd,
      isValid: isValidFwupd,
      compare: (a, b) => compareFwupdVersions(a, b, format),
    };
    schemes.set(format, impl);
  }
  return impl;
}

/** Formats whose releases may be written as a plain number and are printed by fwupd first. */
function readsRawReleases(format: FwupdVersionFormat): boolean {
  return format !== 'plain' && format !== 'number' && format !== 'unknown' && format !== 'hex';
}

/** The entry's ranges with plain-number release versions read in `format`, as fwupd reads them. */
function rangesIn(entry: AffectedEntry, format: FwupdVersionFormat): AffectedEntry['ranges'] {
  if (!readsRawReleases(format)) return entry.ranges;
  const convert = (v: string): string =>
    /^\d+$/.test(v) && v !== '0' ? parseFwupdVersionFromFormat(v, format) : v;
  return entry.ranges.map((r) => ({
    type: r.type,
    events: r.events.map((e) => {
      if ('introduced' in e) return { introduced: e.introduced === '0' ? '0' : convert(e.introduced) };
      if ('fixed' in e) return { fixed: convert(e.fixed) };
      if ('last_affected' in e) return { last_affected: convert(e.last_affected) };
      return { limit: e.limit === '*' ? '*' : convert(e.limit) };
    }),
  }));
}

/** The device's version in `format`: its raw version printed again when the formats differ (or it has only a raw one). */
function installedIn(device: FirmwareDevice, format: FwupdVersionFormat): string | undefined {
  if ((format !== device.versionFormat || device.version === undefined) && device.versionRaw !== undefined) {
    const printed = fwupdVersionFromRaw(BigInt(device.versionRaw), format);
    if (printed !== undefined) return printed;
  }
  return device.version;
}

interface Hit {
  guid: string;
  advisory: Advisory;
  entry: AffectedEntry;
  fixedVersion: string;
  installedVersion: string;
  format: FwupdVersionFormat;
}

function deviceLabel(device: FirmwareDevice): string {
  return device.name === undefined ? `device ${device.id}` : `device ${device.name} (${device.id})`;
}

/** Firmware matches of one host's devices. */
export function matchFirmware(
  index: FirmwareAdvisoryIndex,
  devices: readonly FirmwareDevice[],
): { matches: FirmwareMatch[]; warnings: FirmwareMatchWarning[] } {
  const matches: FirmwareMatch[] = [];
  const warnings: FirmwareMatchWarning[] = [...index.warnings];
  for (const device of devices) {
    const candidates: { guid: string; indexed: IndexedEntry }[] = [];
    for (const guid of device.guids) {
      for (const indexed of index.byGuid.get(guid.toLowerCase()) ?? []) candidates.push({ guid, indexed });
    }
    if (candidates.length === 0) continue;
    const base = { deviceId: device.id, ...(device.name === undefined ? {} : { device: device.name }) };
    if (device.version === undefined && device.versionRaw === undefined) {
      const ids = new Set(candidates.map((c) => c.indexed.advisory.id));
      warnings.push({
        ...base,
        message: `${deviceLabel(device)} reports no firmware version: ${ids.size} firmware advisories not evaluated`,
      });
      continue;
    }
    const hits: Hit[] = [];
    const seen = new Set<string>();
    for (const { guid, indexed } of candidates) {
      if (seen.has(indexed.advisory.id)) continue;
      seen.add(indexed.advisory.id);
      const format = indexed.format ?? device.versionFormat;
      const installed = installedIn(device, format);
      if (installed === undefined || !isValidFwupd(installed)) {
        warnings.push({
          ...base,
          advisoryId: indexed.advisory.id,
          message: `${deviceLabel(device)}: no usable version in the ${format} format; advisory ${indexed.advisory.id} not evaluated`,
        });
        continue;
      }
      let fixed: string | null;
      try {
        const scheme = schemeFor(format);
        const ranges = prepareRanges(scheme, rangesIn(indexed.entry, format));
        if (!isAffectedPrepared(scheme, installed, ranges, indexed.entry.versions)) continue;
        fixed = fixedVersionForPrepared(installed, ranges);
      } catch (err) {
        if (!(err instanceof InvalidVersionError)) throw err;
        warnings.push({
          ...base,
          advisoryId: indexed.advisory.id,
          message: `${userMessageOf(err)}; not evaluated`,
        });
        continue;
      }
      if (fixed === null) continue; // LVFS entries always name their release
      hits.push({
        guid,
        advisory: indexed.advisory,
        entry: indexed.entry,
        fixedVersion: fixed,
        installedVersion: installed,
        format,
      });
    }
    matches.push(...groupByLowestFix(device, hits));
  }
  return { matches, warnings };
}

/** Each issue goes to the lowest release that fixes it; one match per release that keeps issues. */
function groupByLowestFix(device: FirmwareDevice, hits: readonly Hit[]): FirmwareMatch[] {
  const lowest = new Map<string, Hit>();
  const issuesOf = (h: Hit): string[] => {
    const ids = [...new Set([...h.advisory.cves, ...h.advisory.aliases])];
    return ids.length === 0 ? [h.advisory.id] : ids;
  };
  for (const h of hits) {
    for (const issue of issuesOf(h)) {
      const best = lowest.get(issue);
      if (best === undefined || compareFwupdVersions(h.fixedVersion, best.fixedVersion, h.format) < 0)
        lowest.set(issue, h);
    }
  }
  const out: FirmwareMatch[] = [];
  for (const h of hits) {
    const issues = issuesOf(h).filter((i) => lowest.get(i) === h);
    if (issues.length === 0) continue;
    const match: FirmwareMatch = {
      device,
      guid: h.guid,
      advisoryId: h.advisory.id,
      fixedVersion: h.fixedVersion,
      installedVersion: h.installedVersion,
      versionFormat: h.format,
      cves: h.advisory.cves.filter((c) => issues.includes(c)),
      issues,
      updatable: device.flags.includes('updatable'),
      ...(h.entry.urgency === undefined ? {} : { urgency: h.entry.urgency }),
    };
    out.push(match);
  }
  return out;
}
