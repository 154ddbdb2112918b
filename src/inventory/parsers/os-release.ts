/**
 * /etc/os-release (os-release(5)): `KEY=value` lines, values optionally in double or single quotes
 * with shell-style escapes inside double quotes. Maps ID and ID_LIKE to an OsFamily.
 */
import type { OsFamily, OsInfo } from '../../core/model.js';
import { showLine, splitLines, WarningList, type ParseWarning } from './warnings.js';

export interface OsReleaseResult {
  os: OsInfo;
  /** Every variable, unquoted. */
  fields: Record<string, string>;
  warnings: ParseWarning[];
}

const ASSIGNMENT = /^([A-Z_][A-Z0-9_]*)=(.*)$/;
const ID_PATTERN = /^[a-z0-9._-]{1,64}$/;
const VERSION_ID_PATTERN = /^[A-Za-z0-9._~-]{1,64}$/;
const CODENAME_PATTERN = /^[a-z0-9._-]{1,64}$/;

const FAMILIES: Record<string, OsFamily> = {
  debian: 'debian',
  raspbian: 'debian',
  ubuntu: 'ubuntu',
  alpine: 'alpine',
  rhel: 'rhel',
  centos: 'rhel',
  ol: 'rhel',
  rocky: 'rocky',
  almalinux: 'almalinux',
  fedora: 'fedora',
  suse: 'suse',
  sles: 'suse',
  sles_sap: 'suse',
  opensuse: 'suse',
  'opensuse-leap': 'suse',
  'opensuse-tumbleweed': 'suse',
};

/** Unquotes one value; undefined when the quoting is broken. */
function unquote(raw: string): string | undefined {
  const v = raw.trim();
  if (v.startsWith('"')) {
    if (v.length < 2 || !v.endsWith('"')) return undefined;
    const inner = v.slice(1, -1);
    let out = '';
    for (let i = 0; i < inner.length; i += 1) {
      const c = inner[i];
      if (c === '\\' && i + 1 < inner.length && '"\\$`'.includes(inner[i + 1])) {
        out += inner[i + 1];
        i += 1;
      } else if (c === '"') {
        return undefined;
      } else {
        out += c;
      }
    }
    return out;
  }
  if (v.startsWith("'")) {
    if (v.length < 2 || !v.endsWith("'") || v.slice(1, -1).includes("'")) return undefined;
    return v.slice(1, -1);
  }
  if (/[\s"'`$\\]/.test(v)) return undefined;
  return v;
}

export function familyOf(id: string, idLike: readonly string[]): OsFamily {
  for (const candidate of [id, ...idLike]) {
    const family = FAMILIES[candidate];
    if (family !== undefined) return family;
  }
  return 'unknown';
}

export function parseOsRelease(text: string): OsReleaseResult {
  const warnings = new WarningList();
  const fields: Record<string, string> = {};
  splitLines(text).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const m = ASSIGNMENT.exec(trimmed);
    if (m === null) {
      warnings.add(line, `not a KEY=value line: ${showLine(raw)}`);
      return;
    }
    const value = unquote(m[2]);
    if (value === undefined) {
      warnings.add(line, `${m[1]}: badly quoted value ${showLine(m[2])}`);
      return;
    }
    fields[m[1]] = value;
  });

  let id = fields.ID ?? 'linux';
  if (fields.ID === undefined) warnings.add(0, 'no ID in os-release; using "linux" as os-release(5) says');
  if (!ID_PATTERN.test(id)) {
    warnings.add(0, `invalid ID ${showLine(id)}`);
    id = 'linux';
  }
  const idLike = (fields.ID_LIKE ?? '').split(/\s+/).filter((w) => ID_PATTERN.test(w));
  let versionId = fields.VERSION_ID ?? '';
  if (versionId === '') {
    warnings.add(0, 'no VERSION_ID in os-release (a rolling or testing release?)');
  } else if (!VERSION_ID_PATTERN.test(versionId)) {
    warnings.add(0, `invalid VERSION_ID ${showLine(versionId)}`);
    versionId = '';
  }
  const os: OsInfo = { id, family: familyOf(id, idLike), versionId };
  const codename = fields.VERSION_CODENAME ?? fields.UBUNTU_CODENAME;
  if (codename !== undefined && codename !== '') {
    if (CODENAME_PATTERN.test(codename)) os.codename = codename;
    else warnings.add(0, `invalid VERSION_CODENAME ${showLine(codename)}`);
  }
  const pretty = fields.PRETTY_NAME;
  if (pretty !== undefined && pretty !== '') {
    // eslint-disable-next-line no-control-regex
    if (pretty.length <= 200 && !/[\u0000-\u001f\u007f]/.test(pretty)) os.prettyName = pretty;
    else warnings.add(0, 'PRETTY_NAME too long or has control characters; ignored');
  }
  return { os, fields, warnings: warnings.list() };
}
