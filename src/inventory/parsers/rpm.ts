/**
 * rpm inventory: the output of `rpm -qa --qf RPM_QUERY_FORMAT`. The version is rpm's EVR
 * (`[epoch:]version-release`); the source package comes from SOURCERPM, whose file name is
 * `name-version-release.src.rpm` (or `.nosrc.rpm`): the name is everything before the last two `-`.
 * `gpg-pubkey` entries are the imported signing keys, not packages, and are skipped.
 */
import type { InstalledPackage } from '../../core/model.js';
import {
  archProblem,
  packageNameProblem,
  RPM_FIELD_PATTERN,
  versionProblem,
} from '../../core/packages/names.js';
import { showLine, splitLines, WarningList, type PackagesParseResult } from './warnings.js';

export const RPM_QUERY_FORMAT = '%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\n';

const NONE = '(none)';
const SRPM_SUFFIX = /\.(?:no)?src\.rpm$/;

export interface SourceRpm {
  name: string;
  version: string;
  release: string;
}

/** `openssl-3.0.7-27.el9.src.rpm` -> { name: 'openssl', version: '3.0.7', release: '27.el9' }. */
export function parseSourceRpmName(file: string): SourceRpm | undefined {
  if (!SRPM_SUFFIX.test(file)) return undefined;
  const base = file.replace(SRPM_SUFFIX, '');
  const r = base.lastIndexOf('-');
  if (r <= 0) return undefined;
  const v = base.lastIndexOf('-', r - 1);
  if (v <= 0) return undefined;
  const name = base.slice(0, v);
  const version = base.slice(v + 1, r);
  const release = base.slice(r + 1);
  if (packageNameProblem('rpm', name) !== undefined) return undefined;
  if (!RPM_FIELD_PATTERN.test(version) || !RPM_FIELD_PATTERN.test(release)) return undefined;
  return { name, version, release };
}

export function parseRpmQuery(text: string): PackagesParseResult {
  const warnings = new WarningList();
  const packages: InstalledPackage[] = [];
  const seen = new Set<string>();
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const f = raw.split('\t');
    if (f.length !== 6) {
      warnings.add(line, `expected 6 tab-separated fields, got ${f.length}: ${showLine(raw)}`);
      return;
    }
    const [name, epoch, version, release, arch, sourceRpm] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (name === 'gpg-pubkey') return;
    if (epoch !== NONE && !/^[0-9]{1,10}$/.test(epoch)) {
      warnings.add(line, `package ${JSON.stringify(name.slice(0, 80))}: invalid EPOCH ${showLine(epoch)}`);
      return;
    }
    if (!RPM_FIELD_PATTERN.test(version) || !RPM_FIELD_PATTERN.test(release)) {
      warnings.add(
        line,
        `package ${JSON.stringify(name.slice(0, 80))}: invalid VERSION or RELEASE ${showLine(`${version}-${release}`)}`,
      );
      return;
    }
    const epochPrefix = epoch === NONE ? '' : `${epoch}:`;
    const evr = `${epochPrefix}${version}-${release}`;
    const problem = packageNameProblem('rpm', name) ?? versionProblem('rpm', evr) ?? archProblem(arch);
    if (problem !== undefined) {
      warnings.add(line, problem);
      return;
    }
    let sourceName = name;
    let sourceVersion = evr;
    if (sourceRpm !== NONE) {
      const src = parseSourceRpmName(sourceRpm);
      if (src === undefined) {
        warnings.add(line, `package ${name}: invalid SOURCERPM ${showLine(sourceRpm)}`);
        return;
      }
      sourceName = src.name;
      sourceVersion = `${epochPrefix}${src.version}-${src.release}`;
    }
    const key = `${name}.${arch}-${evr}`;
    if (seen.has(key)) {
      warnings.add(line, `package ${key} listed twice; the first entry is kept`);
      return;
    }
    seen.add(key);
    packages.push({ name, version: evr, arch, sourceName, sourceVersion });
  });
  return { packages, warnings: warnings.list() };
}
