export { parseApkInstalled } from './apk.js';
export { DPKG_QUERY_FORMAT, parseDpkgQuery, parseDpkgStatus } from './dpkg.js';
export { parseKernelRelease } from './kernel.js';
export { familyOf, parseOsRelease, type OsReleaseResult } from './os-release.js';
export { needsRestartingVerdict, parseRebootRequiredPkgs } from './reboot.js';
export { parseRpmQuery, parseSourceRpmName, RPM_QUERY_FORMAT } from './rpm.js';
export { MAX_WARNINGS, type PackagesParseResult, type ParseWarning } from './warnings.js';
export { DMI_SYSFS_FILES, parseDmidecode, parseDmiSysfs, type DmiParseResult } from './firmware/dmi.js';
export {
  parseFwupdDevices,
  parseFwupdSecurity,
  parseFwupdUpdates,
  type FwupdDevicesResult,
  type FwupdSecurityResult,
} from './firmware/fwupd.js';
export * from './third-party/index.js';
