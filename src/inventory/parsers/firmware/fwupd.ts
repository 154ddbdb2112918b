/**
 * fwupd's JSON output: `fwupdmgr get-devices --json` / `fwupdtool get-devices --json`,
 * `get-updates --json` (the same device shape, with `Releases`), and `security --json` (HSI).
 *
 * Both fwupd 1.x and 2.x shapes are read: `Protocol`/`VendorId` strings (1.x) and
 * `Protocols`/`VendorIds` arrays (2.x); `UpdateState` as a number (1.x) or a name (2.x).
 * `Version`, `Name`, `Flags` may be missing from a device. A device that breaks the schema is
 * left out with a warning naming it; the others are kept. fwupd's error shape
 * (`{"Error": {"Domain", "Code", "Message"}}`, e.g. "Failed to connect to daemon") is reported as
 * `error`, so the caller can fall back to fwupdtool. Text after the JSON document (fwupd 2.1.1
 * prints some after `get-remotes --json`) is ignored with a warning.
 */
import { z } from 'zod';
import type { FirmwareDevice, FirmwareRelease, HsiAttribute } from '../../../core/model.js';
import { truncate } from '../../../core/errors.js';
import { describeZodError } from '../../../core/validation.js';
import { isFwupdVersionFormat } from '../../../core/versions/fwupd.js';
import { WarningList, type ParseWarning } from '../warnings.js';

export interface FwupdDevicesResult {
  devices: FirmwareDevice[];
  warnings: ParseWarning[];
  /** Set when fwupd answered with its error shape, or the output is no fwupd JSON at all. */
  error?: string;
}

export interface FwupdSecurityResult {
  attributes: HsiAttribute[];
  warnings: ParseWarning[];
  error?: string;
}

const MAX_TEXT = 256;
const MAX_LIST = 1000;

// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const Text = z.string().max(MAX_TEXT).regex(NO_CONTROL, 'contains control characters');
const Version = Text.min(1);
const Guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'not a GUID')
  .transform((g) => g.toLowerCase());
const DeviceId = z.string().regex(/^[0-9a-f]{40}$/, 'not a fwupd device id (40 hex digits)');
const FlagName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'not a flag name');
const list = <T extends z.ZodType>(item: T) => z.array(item).max(MAX_LIST);
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item.transform((x) => [x]), list(item)]);

/** fwupd 1.x writes UpdateState as FwupdUpdateState's number. */
const UPDATE_STATES = [
  'unknown',
  'pending',
  'success',
  'failed',
  'needs-reboot',
  'failed-transient',
] as const;
const UpdateState = z.union([
  z
    .number()
    .int()
    .min(0)
    .max(UPDATE_STATES.length - 1)
    .transform((n) => UPDATE_STATES[n]),
  z.enum(UPDATE_STATES),
]);

const ReleaseSchema = z.object({
  Version: Version,
  AppstreamId: Text.optional(),
  RemoteId: Text.optional(),
  Issues: list(Text).optional(),
  Flags: list(FlagName).optional(),
  Urgency: Text.optional(),
});

const DeviceSchema = z.object({
  DeviceId: DeviceId,
  Name: Text.optional(),
  Vendor: Text.optional(),
  Plugin: Text.optional(),
  Guid: oneOrMany(Guid).optional(),
  InstanceIds: list(z.string().max(1024)).optional(),
  Version: Version.optional(),
  VersionFormat: Text.optional(),
  // Checked below: JSON numbers past 2^53 lose digits (a 64-bit raw version).
  VersionRaw: z.number().nonnegative().optional(),
  VersionLowest: Version.optional(),
  VersionBootloader: Version.optional(),
  Flags: list(FlagName).optional(),
  UpdateState: UpdateState.optional(),
  ParentDeviceId: DeviceId.optional(),
  Protocol: Text.optional(),
  Protocols: list(Text).optional(),
  Releases: z.array(z.unknown()).max(MAX_LIST).optional(),
});

const CVE = /^CVE-\d{4}-\d{4,19}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The first JSON value in `text` and what follows it. fwupd prints one document; anything after
 * it is not JSON patchbot reads.
 */
function readJson(text: string): { value: unknown; trailing: number } | { error: string } {
  const trimmed = text.replace(/^\ufeff/, '');
  try {
    return { value: JSON.parse(trimmed) as unknown, trailing: 0 };
  } catch {
    // fall through: maybe text after the document
  }
  const start = trimmed.search(/\S/);
  if (start === -1) return { error: 'no output' };
  const open = trimmed[start];
  if (open !== '{' && open !== '[')
    return {
      error: `not JSON (starts with ${JSON.stringify(truncate(trimmed.slice(start, start + 40), 40))})`,
    };
  let depth = 0;
  let inString = false;
  for (let i = start; i < trimmed.length; i++) {
    const c = trimmed[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) {
        try {
          const value = JSON.parse(trimmed.slice(start, i + 1)) as unknown;
          return { value, trailing: trimmed.slice(i + 1).trim().length };
        } catch (err) {
          return {
            error: `invalid JSON: ${truncate(err instanceof Error ? err.message : String(err), 160)}`,
          };
        }
      }
    }
  }
  return { error: 'invalid JSON: the document is cut short' };
}

/** fwupd's `{"Error": {"Domain", "Code", "Message"}}`, as one line. */
function fwupdError(value: Record<string, unknown>): string | undefined {
  const e = value['Error'];
  if (!isObject(e)) return undefined;
  const message = typeof e['Message'] === 'string' ? e['Message'] : 'no message';
  const domain = typeof e['Domain'] === 'string' ? ` (${e['Domain']})` : '';
  return `fwupd reported an error${domain}: ${truncate(message.replace(/\s+/g, ' '), 300)}`;
}

function deviceLabel(raw: unknown, index: number): string {
  const name = isObject(raw) && typeof raw['Name'] === 'string' ? ` (${truncate(raw['Name'], 60)})` : '';
  return `Devices[${index}]${name}`;
}

function toRelease(raw: unknown, where: string, warnings: WarningList): FirmwareRelease | undefined {
  const parsed = ReleaseSchema.safeParse(raw);
  if (!parsed.success) {
    warnings.add(0, `${where}: release left out: ${describeZodError(parsed.error)}`);
    return undefined;
  }
  const r = parsed.data;
  const issues = [...new Set(r.Issues ?? [])];
  const release: FirmwareRelease = {
    version: r.Version,
    issues,
    cves: issues.filter((i) => CVE.test(i)),
    flags: r.Flags ?? [],
  };
  if (r.AppstreamId !== undefined) release.appstreamId = r.AppstreamId;
  if (r.RemoteId !== undefined) release.remoteId = r.RemoteId;
  if (r.Urgency !== undefined) release.urgency = r.Urgency;
  return release;
}

function toDevice(raw: unknown, index: number, warnings: WarningList): FirmwareDevice | undefined {
  const label = deviceLabel(raw, index);
  const parsed = DeviceSchema.safeParse(raw);
  if (!parsed.success) {
    warnings.add(0, `${label}: left out: ${describeZodError(parsed.error)}`);
    return undefined;
  }
  const d = parsed.data;
  let versionFormat: FirmwareDevice['versionFormat'] = 'unknown';
  if (d.VersionFormat !== undefined) {
    if (isFwupdVersionFormat(d.VersionFormat)) versionFormat = d.VersionFormat;
    else
      warnings.add(
        0,
        `${label}: unknown VersionFormat ${JSON.stringify(d.VersionFormat)}; compared without a format`,
      );
  }
  const device: FirmwareDevice = {
    id: d.DeviceId,
    guids: [...new Set(d.Guid ?? [])],
    instanceIds: d.InstanceIds ?? [],
    versionFormat,
    flags: d.Flags ?? [],
    protocols: [...new Set([...(d.Protocols ?? []), ...(d.Protocol === undefined ? [] : [d.Protocol])])],
    releases: [],
  };
  if (d.Name !== undefined) device.name = d.Name;
  if (d.Vendor !== undefined) device.vendor = d.Vendor;
  if (d.Plugin !== undefined) device.plugin = d.Plugin;
  if (d.Version !== undefined) device.version = d.Version;
  if (d.VersionRaw !== undefined) {
    if (Number.isSafeInteger(d.VersionRaw)) device.versionRaw = String(d.VersionRaw);
    else if (Number.isInteger(d.VersionRaw))
      warnings.add(0, `${label}: VersionRaw is too large to read exactly; ignored`);
    else warnings.add(0, `${label}: VersionRaw is not an integer; ignored`);
  }
  if (d.VersionLowest !== undefined) device.versionLowest = d.VersionLowest;
  if (d.VersionBootloader !== undefined) device.versionBootloader = d.VersionBootloader;
  if (d.UpdateState !== undefined && d.UpdateState !== 'unknown') device.updateState = d.UpdateState;
  if (d.ParentDeviceId !== undefined) device.parentId = d.ParentDeviceId;
  (d.Releases ?? []).forEach((r, i) => {
    const release = toRelease(r, `${label}.Releases[${i}]`, warnings);
    if (release !== undefined) device.releases.push(release);
  });
  return device;
}

/**
 * Parses `get-devices --json` or `get-updates --json` (`{"Devices": [...]}`), or a single device
 * object (`get-results DEVICE-ID --json`).
 */
export function parseFwupdDevices(text: string): FwupdDevicesResult {
  const warnings = new WarningList();
  const read = readJson(text);
  if ('error' in read) return { devices: [], warnings: [], error: `fwupd output: ${read.error}` };
  if (read.trailing > 0) warnings.add(0, `${read.trailing} characters after the JSON document ignored`);
  const value = read.value;
  if (!isObject(value))
    return { devices: [], warnings: warnings.list(), error: 'fwupd output: not a JSON object' };
  const error = fwupdError(value);
  if (error !== undefined) return { devices: [], warnings: warnings.list(), error };
  let raws: unknown[];
  if (Array.isArray(value['Devices'])) raws = value['Devices'];
  else if (typeof value['DeviceId'] === 'string') raws = [value];
  else return { devices: [], warnings: warnings.list(), error: 'fwupd output: no "Devices" list' };
  const devices: FirmwareDevice[] = [];
  const seen = new Set<string>();
  raws.slice(0, MAX_LIST).forEach((raw, index) => {
    const device = toDevice(raw, index, warnings);
    if (device === undefined) return;
    if (seen.has(device.id)) {
      warnings.add(
        0,
        `${deviceLabel(raw, index)}: device ${device.id} listed twice; the first entry is kept`,
      );
      return;
    }
    seen.add(device.id);
    devices.push(device);
  });
  if (raws.length > MAX_LIST) warnings.add(0, `more than ${MAX_LIST} devices; the rest were not read`);
  return { devices, warnings: warnings.list() };
}

/** `get-updates --json` has the device shape of get-devices, with the updates as `Releases`. */
export const parseFwupdUpdates = parseFwupdDevices;

const AttributeSchema = z.object({
  AppstreamId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'not an appstream id'),
  HsiResult: Text.optional(),
  HsiResultSuccess: Text.optional(),
  HsiLevel: z.number().int().min(0).max(10).optional(),
  Name: Text.optional(),
  Plugin: Text.optional(),
  Flags: list(FlagName).optional(),
});

/** Parses `security --json` (`{"SecurityAttributes": [...]}`; fwupd's host-emulation files have it too). */
export function parseFwupdSecurity(text: string): FwupdSecurityResult {
  const warnings = new WarningList();
  const read = readJson(text);
  if ('error' in read) return { attributes: [], warnings: [], error: `fwupd output: ${read.error}` };
  if (read.trailing > 0) warnings.add(0, `${read.trailing} characters after the JSON document ignored`);
  const value = read.value;
  if (!isObject(value))
    return { attributes: [], warnings: warnings.list(), error: 'fwupd output: not a JSON object' };
  const error = fwupdError(value);
  if (error !== undefined) return { attributes: [], warnings: warnings.list(), error };
  const raws = value['SecurityAttributes'];
  if (!Array.isArray(raws))
    return { attributes: [], warnings: warnings.list(), error: 'fwupd output: no "SecurityAttributes" list' };
  const attributes: HsiAttribute[] = [];
  raws.slice(0, MAX_LIST).forEach((raw, index) => {
    const parsed = AttributeSchema.safeParse(raw);
    if (!parsed.success) {
      warnings.add(0, `SecurityAttributes[${index}]: left out: ${describeZodError(parsed.error)}`);
      return;
    }
    const a = parsed.data;
    const flags = a.Flags ?? [];
    const attribute: HsiAttribute = { appstreamId: a.AppstreamId, flags, success: flags.includes('success') };
    if (a.HsiResult !== undefined) attribute.result = a.HsiResult;
    if (a.HsiResultSuccess !== undefined) attribute.resultSuccess = a.HsiResultSuccess;
    if (a.HsiLevel !== undefined) attribute.level = a.HsiLevel;
    if (a.Name !== undefined) attribute.name = a.Name;
    if (a.Plugin !== undefined) attribute.plugin = a.Plugin;
    attributes.push(attribute);
  });
  return { attributes, warnings: warnings.list() };
}
