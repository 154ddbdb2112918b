export { parseApkInstalled } from './apk.js';
export { DPKG_QUERY_FORMAT, parseDpkgQuery, parseDpkgStatus } from './dpkg.js';
export { parseKernelRelease } from './kernel.js';
export { familyOf, parseOsRelease, type OsReleaseResult } from './os-release.js';
export { needsRestartingVerdict, parseRebootRequiredPkgs } from './reboot.js';
export { parseRpmQuery, parseSourceRpmName, RPM_QUERY_FORMAT } from './rpm.js';
export { MAX_WARNINGS, type PackagesParseResult, type ParseWarning } from './warnings.js';
