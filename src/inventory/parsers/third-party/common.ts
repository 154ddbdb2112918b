/**
 * What every third-party parser returns, and the checks a package passes before it is kept: a
 * name valid for its registry and a version of printable characters (whether the version orders
 * is the matcher's question: it reports versions it cannot compare instead of guessing).
 */
import type { ThirdPartyEcosystem, ThirdPartyPackage } from '../../../core/model.js';
import { WarningList, type ParseWarning } from '../warnings.js';

/** A requirements.txt line that names a package without pinning one version. */
export interface UnpinnedRequirement {
  name: string;
  /** The requirement as written, without options and comments. */
  requirement: string;
  line: number;
}

/** A requirements file named with `-r` / `-c`: reported, never followed. */
export interface IncludedFile {
  path: string;
  kind: 'requirements' | 'constraints';
  line: number;
}

export interface ThirdPartyParseResult {
  packages: ThirdPartyPackage[];
  warnings: ParseWarning[];
  /** requirements.txt only: entries that pin no single version (ranges, URLs, editable). */
  unpinned: UnpinnedRequirement[];
  /** requirements.txt only: `-r` / `-c` files, not followed. */
  includes: IncludedFile[];
  /** Set when the whole input could not be read (not JSON, not TOML, wrong shape). */
  error?: string;
}

export type Owner = Pick<ThirdPartyPackage, 'owner' | 'ownerKind'>;

const NAME_PATTERNS: Record<ThirdPartyEcosystem, RegExp> = {
  // PEP 508 names.
  PyPI: /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/,
  // npm names, scoped or not (old packages may have capitals: JSONStream).
  npm: /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[A-Za-z0-9_][A-Za-z0-9._~-]*$/,
  // Go module paths: slash-separated elements of letters, digits and . _ ~ -.
  Go: /^[A-Za-z0-9][A-Za-z0-9._~-]*(?:\/[A-Za-z0-9._~+-]+)*$/,
  'crates.io': /^[A-Za-z][A-Za-z0-9_-]{0,63}$/,
  RubyGems: /^[A-Za-z0-9_][A-Za-z0-9._-]*$/,
};

const MAX_NAME = 214;
const MAX_VERSION = 256;
// Printable ASCII without white space, quotes or shell metacharacters.
const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+~!-]*$/;

export function nameProblem(ecosystem: ThirdPartyEcosystem, name: string): string | undefined {
  if (name.length <= MAX_NAME && NAME_PATTERNS[ecosystem].test(name)) return undefined;
  return `invalid ${ecosystem} package name ${JSON.stringify(name.length <= 80 ? name : `${name.slice(0, 80)}…`)}`;
}

export function versionProblem(
  ecosystem: ThirdPartyEcosystem,
  name: string,
  version: string,
): string | undefined {
  if (version.length <= MAX_VERSION && VERSION_PATTERN.test(version)) return undefined;
  const shown = JSON.stringify(version.length <= 80 ? version : `${version.slice(0, 80)}…`);
  return `${ecosystem} package ${name}: invalid version ${shown}`;
}

/** Collects packages once per (name, version), checking each. */
export class PackageList {
  readonly packages: ThirdPartyPackage[] = [];
  private readonly seen = new Map<string, ThirdPartyPackage>();

  constructor(
    private readonly ecosystem: ThirdPartyEcosystem,
    private readonly owner: Owner,
    readonly warnings: WarningList,
  ) {}

  /** Adds a package; returns false (with a warning) when its name or version is refused. */
  add(line: number, name: string, version: string, extra: { dev?: boolean; marker?: string } = {}): boolean {
    const problem = nameProblem(this.ecosystem, name) ?? versionProblem(this.ecosystem, name, version);
    if (problem !== undefined) {
      this.warnings.add(line, problem);
      return false;
    }
    const key = `${name}\u0000${version}`;
    const known = this.seen.get(key);
    if (known !== undefined) {
      // A package that is a production dependency anywhere is one.
      if (known.dev === true && extra.dev !== true) delete known.dev;
      return true;
    }
    const pkg: ThirdPartyPackage = { ecosystem: this.ecosystem, name, version, ...this.owner };
    if (extra.dev === true) pkg.dev = true;
    if (extra.marker !== undefined) pkg.marker = extra.marker;
    this.seen.set(key, pkg);
    this.packages.push(pkg);
    return true;
  }

  result(
    extra: Partial<Pick<ThirdPartyParseResult, 'unpinned' | 'includes' | 'error'>> = {},
  ): ThirdPartyParseResult {
    const out: ThirdPartyParseResult = {
      packages: this.packages,
      warnings: this.warnings.list(),
      unpinned: extra.unpinned ?? [],
      includes: extra.includes ?? [],
    };
    if (extra.error !== undefined) out.error = extra.error;
    return out;
  }
}

export function newList(ecosystem: ThirdPartyEcosystem, owner: Owner): PackageList {
  return new PackageList(ecosystem, owner, new WarningList());
}

export function failed(error: string): ThirdPartyParseResult {
  return { packages: [], warnings: [], unpinned: [], includes: [], error };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** JSON text -> value, or an error naming what is wrong. */
export function readJsonDocument(text: string, what: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text.replace(/^\ufeff/, '')) as unknown };
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/, ".*" is not valid JSON$/s, '') : String(err);
    return { error: `${what}: invalid JSON (${why.slice(0, 160)})` };
  }
}
