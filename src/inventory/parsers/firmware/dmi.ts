/**
 * SMBIOS/DMI facts. Two sources:
 *
 * - /sys/class/dmi/id, world-readable files the kernel fills from the SMBIOS tables. The collector
 *   reads exactly DMI_SYSFS_FILES with `grep -s -H '' FILE...` (one `PATH:VALUE` line per file; a
 *   missing file prints nothing). The root-only files (product_serial, board_serial,
 *   chassis_serial, product_uuid) are never asked for.
 * - `dmidecode -t bios -t system -t baseboard` text, a fallback for hosts without the sysfs
 *   files (it needs root; serial numbers and UUIDs in its output are ignored).
 *
 * Values are trimmed; empty values and SMBIOS placeholders ("To Be Filled By O.E.M.", "Not
 * Specified", "Default string"...) mean "not filled in" and leave the field absent.
 */
import type { DmiInfo } from '../../../core/model.js';
import { showLine, splitLines, WarningList, type ParseWarning } from '../warnings.js';

export const DMI_SYSFS_DIR = '/sys/class/dmi/id';

/** sysfs file -> DmiInfo field. */
const SYSFS_FIELDS = {
  bios_vendor: 'biosVendor',
  bios_version: 'biosVersion',
  bios_date: 'biosDate',
  bios_release: 'biosRelease',
  sys_vendor: 'systemVendor',
  product_name: 'productName',
  product_family: 'productFamily',
  board_vendor: 'boardVendor',
  board_name: 'boardName',
} as const satisfies Record<string, keyof DmiInfo>;

/** The files patchbot reads, all mode 444 (no serial numbers, no UUID). */
export const DMI_SYSFS_FILES: readonly string[] = Object.keys(SYSFS_FIELDS).map(
  (f) => `${DMI_SYSFS_DIR}/${f}`,
);

export interface DmiParseResult {
  dmi: DmiInfo;
  warnings: ParseWarning[];
}

const MAX_VALUE = 256;

/** What firmware vendors leave in SMBIOS strings they did not fill in (compared case-insensitively). */
const PLACEHOLDERS: ReadonlySet<string> = new Set([
  'to be filled by o.e.m.',
  'to be filled by oem',
  'not specified',
  'not applicable',
  'default string',
  'system product name',
  'system manufacturer',
  'system version',
  'o.e.m.',
  'oem',
  'none',
  'n/a',
  'unknown',
  '0123456789',
]);

/** A cleaned value, or undefined (with a warning when it was refused rather than empty). */
function clean(raw: string, what: string, line: number, warnings: WarningList): string | undefined {
  const value = raw.trim();
  if (value === '') return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    warnings.add(line, `${what}: control characters in ${showLine(value)}; ignored`);
    return undefined;
  }
  if (value.length > MAX_VALUE) {
    warnings.add(line, `${what}: longer than ${MAX_VALUE} characters; ignored`);
    return undefined;
  }
  if (PLACEHOLDERS.has(value.toLowerCase())) return undefined;
  return value;
}

/** Parses `grep -s -H '' /sys/class/dmi/id/...` output: `PATH:VALUE` lines. */
export function parseDmiSysfs(text: string): DmiParseResult {
  const warnings = new WarningList();
  const dmi: DmiInfo = {};
  const seen = new Set<string>();
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const colon = raw.indexOf(':');
    const path = colon === -1 ? '' : raw.slice(0, colon);
    const file = path.startsWith(`${DMI_SYSFS_DIR}/`) ? path.slice(DMI_SYSFS_DIR.length + 1) : '';
    if (!Object.hasOwn(SYSFS_FIELDS, file)) {
      warnings.add(line, `not a line for a ${DMI_SYSFS_DIR} file patchbot reads: ${showLine(raw)}`);
      return;
    }
    if (seen.has(file)) {
      warnings.add(line, `${file} given twice; the first value is kept`);
      return;
    }
    seen.add(file);
    const value = clean(raw.slice(colon + 1), file, line, warnings);
    if (value !== undefined) dmi[SYSFS_FIELDS[file as keyof typeof SYSFS_FIELDS]] = value;
  });
  return { dmi, warnings: warnings.list() };
}

/** dmidecode "DMI type" -> (key -> field). */
const DMIDECODE_FIELDS: Readonly<Record<number, Readonly<Record<string, keyof DmiInfo>>>> = {
  0: {
    Vendor: 'biosVendor',
    Version: 'biosVersion',
    'Release Date': 'biosDate',
    'BIOS Revision': 'biosRelease',
  },
  1: { Manufacturer: 'systemVendor', 'Product Name': 'productName', Family: 'productFamily' },
  2: { Manufacturer: 'boardVendor', 'Product Name': 'boardName' },
};

const HANDLE = /^Handle 0x[0-9A-Fa-f]+, DMI type (\d+), \d+ bytes$/;
const FIELD = /^\t([^\t:][^:]*): ?(.*)$/;

/**
 * Parses dmidecode's text output. Only the first structure of types 0 (BIOS), 1 (System) and 2
 * (Base Board) is read; other structures and multi-line values are skipped.
 */
export function parseDmidecode(text: string): DmiParseResult {
  const warnings = new WarningList();
  const dmi: DmiInfo = {};
  let type: number | undefined;
  const done = new Set<number>();
  let sawHandle = false;
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const handle = HANDLE.exec(raw);
    if (handle !== null) {
      sawHandle = true;
      if (type !== undefined) done.add(type);
      const t = Number(handle[1]);
      type = Object.hasOwn(DMIDECODE_FIELDS, t) && !done.has(t) ? t : undefined;
      return;
    }
    if (raw === '') {
      if (type !== undefined) done.add(type);
      type = undefined;
      return;
    }
    if (type === undefined) return;
    const field = FIELD.exec(raw);
    if (field === null) return; // the structure's title line, or a multi-line value
    const target = DMIDECODE_FIELDS[type][field[1]];
    if (target === undefined || dmi[target] !== undefined) return;
    const value = clean(field[2], `${field[1]} (DMI type ${type})`, line, warnings);
    if (value !== undefined) dmi[target] = value;
  });
  if (!sawHandle)
    warnings.add(0, 'no SMBIOS structure in the dmidecode output (no "Handle 0x..., DMI type N" line)');
  return { dmi, warnings: warnings.list() };
}
