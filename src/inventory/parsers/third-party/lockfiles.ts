/**
 * Lockfiles of Go (go.sum), Rust (Cargo.lock) and Ruby (Gemfile.lock).
 *
 * - go.sum lists every module version the build ever checked, not only the one it builds: a
 *   module counts with the highest version that has a source hash (`h1:` of the module zip, not
 *   only of its `/go.mod`), which is the one minimal version selection builds; older versions are
 *   counted in one warning. Modules with only `/go.mod` hashes were never built.
 * - Cargo.lock: `[[package]]` entries from crates.io (`registry+https://github.com/rust-lang/crates.io-index`
 *   or `sparse+https://index.crates.io/`). Workspace members (no `source`) are the project's own
 *   crates; git and other registries are skipped with a warning.
 * - Gemfile.lock: the `specs:` of `GEM` sections, `name (version[-platform])`. `PATH` and `GIT`
 *   gems do not come from a gem server and are skipped with a warning.
 */
import { parse as parseToml } from 'smol-toml';
import { compareGo, isValidGo } from '../../../core/versions/go.js';
import { showLine, splitLines } from '../warnings.js';
import { failed, isObject, newList, type Owner, type ThirdPartyParseResult } from './common.js';

const MAX_LINES = 500_000;

export function parseGoSum(text: string, owner: Owner): ThirdPartyParseResult {
  const list = newList('Go', owner);
  const built = new Map<string, { version: string; line: number; older: number }>();
  splitLines(text)
    .slice(0, MAX_LINES)
    .forEach((raw, index) => {
      const line = index + 1;
      if (raw.trim() === '') return;
      const m = /^(\S+) (v\S+?)(\/go\.mod)? (h\d+:[A-Za-z0-9+/=]+)$/.exec(raw);
      if (m === null) {
        list.warnings.add(line, `not a go.sum line (module version hash): ${showLine(raw)}`);
        return;
      }
      const [, module, version, goModOnly] = m;
      if (goModOnly !== undefined) return;
      if (!isValidGo(version)) {
        list.warnings.add(line, `module ${module}: invalid version ${showLine(version)}`);
        return;
      }
      const known = built.get(module);
      if (known === undefined) built.set(module, { version, line, older: 0 });
      else if (compareGo(version, known.version) > 0)
        built.set(module, { version, line, older: known.older + 1 });
      else if (version !== known.version) known.older++;
    });
  let older = 0;
  let modules = 0;
  for (const [module, { version, line, older: n }] of built) {
    list.add(line, module, version);
    if (n > 0) {
      older += n;
      modules++;
    }
  }
  if (older > 0) {
    list.warnings.add(
      0,
      `${older} older versions of ${modules} modules in go.sum not counted (Go builds the highest one)`,
    );
  }
  return list.result();
}

const CRATES_IO = new Set([
  'registry+https://github.com/rust-lang/crates.io-index',
  'sparse+https://index.crates.io/',
]);

export function parseCargoLock(text: string, owner: Owner): ThirdPartyParseResult {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    return failed(
      `Cargo.lock: invalid TOML (${(err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 160)})`,
    );
  }
  const packages = doc['package'];
  if (!Array.isArray(packages)) return failed('Cargo.lock: no [[package]] entries');
  const list = newList('crates.io', owner);
  packages.slice(0, MAX_LINES).forEach((entry: unknown, index) => {
    if (!isObject(entry) || typeof entry['name'] !== 'string' || typeof entry['version'] !== 'string') {
      list.warnings.add(0, `package ${index}: expected name and version strings`);
      return;
    }
    const source = entry['source'];
    if (source === undefined) return; // a workspace member or path dependency: the project's own code
    if (typeof source !== 'string' || !CRATES_IO.has(source)) {
      const shown = typeof source === 'string' ? source.split('#')[0]?.slice(0, 80) : 'an unknown source';
      list.warnings.add(
        0,
        `crate ${entry['name']} ${entry['version']}: from ${shown}, not crates.io; not matched`,
      );
      return;
    }
    list.add(0, entry['name'], entry['version']);
  });
  return list.result();
}

export function parseGemfileLock(text: string, owner: Owner): ThirdPartyParseResult {
  const list = newList('RubyGems', owner);
  let section = '';
  let inSpecs = false;
  const lines = splitLines(text);
  if (lines.length > MAX_LINES) return failed(`Gemfile.lock: more than ${MAX_LINES} lines`);
  let sawGem = false;
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (/^\S/.test(raw)) {
      section = raw.trim();
      inSpecs = false;
      if (section === 'GEM') sawGem = true;
      return;
    }
    if (raw.trim() === '') return;
    if (/^ {2}specs:$/.test(raw)) {
      inSpecs = true;
      return;
    }
    if (/^ {2}\S/.test(raw)) {
      inSpecs = false; // remote:, revision:, branch: ...
      return;
    }
    if (!inSpecs) return;
    const spec = /^ {4}([^\s(]+) \(([^)]+)\)$/.exec(raw);
    if (spec === null) return; // a dependency line (6 spaces) or something this parser does not read
    const [, name, full] = spec;
    if (section !== 'GEM') {
      list.warnings.add(line, `gem ${name} ${full}: from a ${section} source, not a gem server; not matched`);
      return;
    }
    // "1.11.7-x86_64-linux": the version, then the platform. Gem versions themselves have no "-".
    const dash = full.indexOf('-');
    list.add(line, name, dash === -1 ? full : full.slice(0, dash));
  });
  if (!sawGem && list.packages.length === 0) {
    return list.result({ error: 'Gemfile.lock: no GEM section' });
  }
  return list.result();
}
