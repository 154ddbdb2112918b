/**
 * The domain vocabulary shared by every layer. Pure data: no behaviour, no I/O.
 * Feeds produce Advisory and CveEnrichment; inventory produces InventorySnapshot;
 * matching turns both into Finding; risk scores a Finding.
 */

/**
 * Version ordering schemes (src/core/versions): distributions (deb, rpm, apk), language registries
 * (semver for npm and crates.io, pep440 for PyPI, go for Go modules, rubygems for RubyGems) and
 * firmware (fwupd, with no version format; firmware matching passes each device's format).
 */
export type VersionScheme = 'deb' | 'rpm' | 'apk' | 'semver' | 'pep440' | 'go' | 'rubygems' | 'fwupd';

/** Package managers patchbot reads and drives on hosts. */
export type PackageManagerKind = 'dpkg' | 'rpm' | 'apk';

export type OsFamily =
  'debian' | 'ubuntu' | 'alpine' | 'rhel' | 'rocky' | 'almalinux' | 'fedora' | 'suse' | 'unknown';

export interface OsInfo {
  /** os-release ID, e.g. "debian". */
  id: string;
  family: OsFamily;
  /** os-release VERSION_ID, e.g. "12", "22.04", "3.19.1", "9.4". */
  versionId: string;
  codename?: string;
  prettyName?: string;
}

export interface InstalledPackage {
  /** Binary package name as the package manager knows it. */
  name: string;
  version: string;
  arch: string;
  /** Source package (dpkg `Source:`, rpm SOURCERPM name, apk origin); equals `name` when not given. */
  sourceName: string;
  /** Source version: differs from `version` for binNMUs (`+b1`) or when dpkg says `Source: x (ver)`. */
  sourceVersion: string;
  /**
   * dpkg only: set when the package's files are on disk but dpkg has not finished with it
   * (`half-installed`, `unpacked`, `half-configured`, `triggers-awaited`, `triggers-pending`).
   * Absent means fully installed.
   */
  state?: PackageState;
}

/** dpkg's states for a package whose files are (at least partly) on disk, short of "installed". */
export type PackageState =
  'half-installed' | 'unpacked' | 'half-configured' | 'triggers-awaited' | 'triggers-pending';

export interface InventorySnapshot {
  os: OsInfo;
  kernel: string;
  packageManager: PackageManagerKind;
  packages: InstalledPackage[];
  rebootRequired: boolean;
  /** Packages that asked for the reboot (/var/run/reboot-required.pkgs), when known. */
  rebootPackages: string[];
  collectedAt: Date;
  /** Firmware and third-party software (absent for an offline input such as `--dpkg-status`). */
  baseline?: HostBaseline;
}

/** The baseline sources the collector reads besides the distribution's packages (docs/inventory.md). */
export type BaselineSource = 'dmi' | 'fwupd' | 'hsi' | 'pip' | 'python-metadata' | 'npm' | 'lockfiles';

/**
 * What one source gave: `collected`, `not-present` (the tool or file is not on the host: nothing
 * to read, never an error) or `failed` (it is there and could not be read: the detail says why).
 */
export interface BaselineSourceStatus {
  source: BaselineSource;
  status: 'collected' | 'not-present' | 'failed';
  detail: string;
}

/** The rest of a host's baseline: firmware facts and language packages, with how each was read. */
export interface HostBaseline {
  dmi?: DmiInfo;
  firmware: FirmwareDevice[];
  hsi?: HsiAttribute[];
  thirdParty: ThirdPartyPackage[];
  sources: BaselineSourceStatus[];
}

/** What a finding is about (its "kind" in reports): a distribution package, a language package, firmware. */
export type FindingKind = 'os' | 'third-party' | 'firmware';

/** An OSV-style range event. Exactly one key is set. */
export type RangeEvent =
  { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

export interface AffectedRange {
  type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  events: RangeEvent[];
}

/**
 * How a distribution treats an advisory for one package in one release.
 * - affected: the ranges/versions decide (a `fixed` event is the fix).
 * - not-affected: the release never shipped the vulnerable code (tracker `<not-affected>`, fixed_version "0").
 * - unfixed: affected and no fix yet (`<unfixed>`, open).
 * - no-dsa / ignored / postponed: affected, the distribution decided not to issue a fix (minor issue).
 */
export type AffectedStatus = 'affected' | 'not-affected' | 'unfixed' | 'no-dsa' | 'ignored' | 'postponed';

export interface AffectedEntry {
  /** OSV ecosystem string: "Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19", "Rocky Linux:9", "npm", "PyPI". */
  ecosystem: string;
  /** Package name as the advisory names it. */
  package: string;
  /** Whether `package` is a source package (Debian/Ubuntu/Alpine origin) or a binary one. */
  nameKind: 'source' | 'binary';
  status: AffectedStatus;
  ranges: AffectedRange[];
  /** Explicit list of affected versions (OSV `versions`). */
  versions: string[];
  /** Binary packages the fix applies to, when the advisory lists them (Ubuntu `binaries`). */
  binaries?: string[];
  /** Distribution urgency (Debian tracker: low, medium, high, unimportant...). */
  urgency?: string;
}

/** lvfs: LVFS/AppStream firmware metadata (src/feeds/lvfs). */
export type AdvisorySource = 'osv' | 'debian-tracker' | 'alpine-secdb' | 'lvfs';

export interface SeverityVector {
  /** OSV severity type: CVSS_V2, CVSS_V3, CVSS_V4, Ubuntu, ... */
  type: string;
  score: string;
}

export interface Advisory {
  /** Stable id: "DSA-5514-1", "GHSA-...", "USN-6859-1", or "DEBIAN-CVE-2023-4911" for tracker entries. */
  id: string;
  source: AdvisorySource;
  aliases: string[];
  /** CVE ids this advisory covers (from id, aliases and upstream). */
  cves: string[];
  published?: Date;
  modified: Date;
  withdrawn?: Date;
  summary: string;
  details?: string;
  references: { type: string; url: string }[];
  severity: SeverityVector[];
  affected: AffectedEntry[];
}

export interface CvssScore {
  version: '2.0' | '3.0' | '3.1' | '4.0';
  vector: string;
  baseScore: number;
  severity: 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
  /** Who scored it: "nvd@nist.gov", a CNA, or the advisory. */
  source: string;
  /** NVD's metric type: true for the "Primary" score (NVD's own), false for a "Secondary" (CNA) one. */
  primary?: boolean;
}

export interface EpssScore {
  score: number;
  percentile: number;
  date: string;
}

export interface KevEntry {
  dateAdded: string;
  dueDate: string;
  knownRansomware: boolean;
  vendor: string;
  product: string;
  name: string;
  requiredAction: string;
}

/** What the enrichment feeds (NVD, EPSS, KEV) know about one CVE. */
export interface CveEnrichment {
  cve: string;
  cvss: CvssScore[];
  epss?: EpssScore;
  kev?: KevEntry;
  /** NVD vulnStatus "Rejected" and similar. */
  rejected?: boolean;
}

/** The facts about a host that change priority (step 4 of the process). */
export interface HostContext {
  name: string;
  environment: string;
  /** 1 = most critical ... 4 = least. */
  criticality: 1 | 2 | 3 | 4;
  internetFacing: boolean;
  compensatingControls: string[];
  labels: Record<string, string>;
  team?: string;
}

export type SsvcDecision = 'Track' | 'Track*' | 'Attend' | 'Act';

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'none';

export interface RiskFactor {
  /** Stable key: cvss, epss, kev, ransomware, criticality, exposure, controls, fix. */
  name: string;
  /** Human label with the input: "EPSS 0.81 (97th percentile)". */
  label: string;
  /** The input value (number, boolean or string). */
  value: number | boolean | string | null;
  /** Points this factor added to (or removed from) the 0-100 score. */
  contribution: number;
  /** For a per-CVE factor (cvss, epss, kev, ransomware): the CVE that gave the worst value. */
  cve?: string;
  /**
   * For the cvss factor: where its value came from. `cvss` a CVSS score; `distribution` no CVSS is
   * known, the distribution's own severity stands in (Debian urgency, Ubuntu priority, Red Hat
   * severity); `prior` neither is known, the policy's conservative prior stands in.
   */
  basis?: 'cvss' | 'distribution' | 'prior';
}

/** The four decision points of CISA's SSVC coordinator table, as patchbot derived them. */
export interface SsvcInputs {
  exploitation: 'none' | 'public poc' | 'active';
  automatable: 'no' | 'yes';
  technicalImpact: 'partial' | 'total';
  missionWellbeing: 'low' | 'medium' | 'high';
}

export interface RiskAssessment {
  score: number;
  severity: Severity;
  factors: RiskFactor[];
  ssvc: SsvcDecision;
  dueDate: Date;
  /** Why the due date is what it is: "KEV due date" or "SLA high: 7 days". */
  dueReason: string;
  /** CISA's KEV due date (the earliest of the finding's CVEs), kept as a fact whatever `dueDate` is. */
  kevDueDate?: Date;
  /** The SSVC decision points behind `ssvc`, and the CVE that gave the decision (when there was one). */
  ssvcInputs?: SsvcInputs;
  ssvcCve?: string;
  /** The sum of the contributions before clamping to 0-100 (equals `score` when no clamping happened). */
  rawScore?: number;
}

// ---- firmware and third-party software (the rest of a host's baseline) --------------------

/**
 * SMBIOS/DMI facts as Linux exposes them in /sys/class/dmi/id (readable without root), or as
 * dmidecode prints them. A field is absent when the firmware did not fill it in (empty, or an
 * SMBIOS placeholder such as "To Be Filled By O.E.M."). Serial numbers and UUIDs are never read.
 */
export interface DmiInfo {
  biosVendor?: string;
  biosVersion?: string;
  /** As the firmware writes it, usually MM/DD/YYYY. */
  biosDate?: string;
  /** SMBIOS "BIOS Revision", e.g. "2.2". */
  biosRelease?: string;
  systemVendor?: string;
  productName?: string;
  productFamily?: string;
  boardVendor?: string;
  boardName?: string;
}

/** fwupd's VersionFormat names (src/core/versions/fwupd.ts). */
export type FirmwareVersionFormat =
  | 'unknown'
  | 'plain'
  | 'number'
  | 'pair'
  | 'triplet'
  | 'quad'
  | 'bcd'
  | 'intel-me'
  | 'intel-me2'
  | 'surface-legacy'
  | 'surface'
  | 'dell-bios'
  | 'hex'
  | 'dell-bios-msb'
  | 'intel-csme19'
  | 'compal-bios';

/** A firmware release fwupd knows for a device (`Releases` of get-devices / get-updates). */
export interface FirmwareRelease {
  version: string;
  /** The LVFS component id, e.g. "org.linuxfoundation.dbx.aa64.firmware". */
  appstreamId?: string;
  remoteId?: string;
  /** Every id of `Issues`, CVE or not ("309662"). */
  issues: string[];
  /** The CVE ids among `issues`. */
  cves: string[];
  /** is-upgrade, is-downgrade, blocked-version... */
  flags: string[];
  urgency?: string;
}

/** One device of `fwupdmgr get-devices --json` (or fwupdtool). */
export interface FirmwareDevice {
  /** fwupd's DeviceId (40 hex digits): what `fwupdmgr update` takes. */
  id: string;
  name?: string;
  vendor?: string;
  plugin?: string;
  /** Lower-case GUIDs: what LVFS metadata matches (`<provides><firmware type="flashed">`). */
  guids: string[];
  instanceIds: string[];
  /** Absent when fwupd does not know the running version (a CPU without microcode version, a NIC). */
  version?: string;
  versionFormat: FirmwareVersionFormat;
  /** The raw integer version (decimal digits), when the device reports one. */
  versionRaw?: string;
  versionLowest?: string;
  versionBootloader?: string;
  flags: string[];
  /** pending, success, failed, needs-reboot, failed-transient, when fwupd recorded an update. */
  updateState?: string;
  parentId?: string;
  protocols: string[];
  releases: FirmwareRelease[];
}

/** One Host Security ID attribute (`fwupdmgr security --json`). */
export interface HsiAttribute {
  /** e.g. "org.fwupd.hsi.Uefi.SecureBoot". */
  appstreamId: string;
  /** fwupd's HsiResult: "enabled", "not-enabled", "locked", "not-found", "valid"... */
  result?: string;
  /** The result that would count as success. */
  resultSuccess?: string;
  /** HSI level 1-4 the attribute belongs to, when fwupd says. */
  level?: number;
  name?: string;
  plugin?: string;
  flags: string[];
  /** The `success` flag. */
  success: boolean;
}

/** OSV ecosystems of third-party (language) packages patchbot inventories. */
export type ThirdPartyEcosystem = 'PyPI' | 'npm' | 'Go' | 'crates.io' | 'RubyGems';

/**
 * A language package found on a host, with where it was found: remediation differs for a
 * system-wide interpreter (upgrade in place) and a lockfile (bump it in the project).
 */
export interface ThirdPartyPackage {
  ecosystem: ThirdPartyEcosystem;
  /** The registry name as the source wrote it (PyPI names are compared normalised). */
  name: string;
  version: string;
  /** The interpreter (`/usr/bin/python3`), npm's global prefix, or the lockfile's path. */
  owner: string;
  ownerKind: 'interpreter' | 'site-packages' | 'global-npm' | 'lockfile';
  /** A development-only dependency, when the lockfile says so. */
  dev?: boolean;
  /** requirements.txt environment marker, kept as written (not evaluated). */
  marker?: string;
}
