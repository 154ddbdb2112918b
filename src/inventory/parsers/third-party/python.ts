/**
 * Python packages: `pip list --format=json` of an interpreter, a distribution's `METADATA`
 * (`*.dist-info`) or `PKG-INFO` (`*.egg-info`), `requirements.txt`, and `poetry.lock`.
 *
 * requirements.txt: only exact pins (`name==1.2.3`, `name===1.2.3`) become packages; every other
 * requirement (ranges, no version, `==1.*`, URLs, paths, `-e`) is reported as unpinned, never
 * guessed. Environment markers are kept as written (the interpreter they apply to is not known
 * here); extras are dropped from the name; `--hash` and other per-requirement options are
 * ignored; `-r` / `-c` files are named but not followed.
 */
import { parse as parseToml } from 'smol-toml';
import { showLine, splitLines } from '../warnings.js';
import {
  failed,
  isObject,
  newList,
  readJsonDocument,
  type IncludedFile,
  type Owner,
  type ThirdPartyParseResult,
  type UnpinnedRequirement,
} from './common.js';

const MAX_PACKAGES = 100_000;

/** `pip list --format=json`: `[{"name": ..., "version": ...}, ...]`. */
export function parsePipList(text: string, owner: Owner): ThirdPartyParseResult {
  const read = readJsonDocument(text, 'pip list');
  if ('error' in read) return failed(read.error);
  if (!Array.isArray(read.value)) return failed('pip list: expected a JSON list of {name, version}');
  const list = newList('PyPI', owner);
  read.value.slice(0, MAX_PACKAGES).forEach((entry, index) => {
    if (!isObject(entry) || typeof entry['name'] !== 'string' || typeof entry['version'] !== 'string') {
      list.warnings.add(0, `entry ${index}: expected {"name": string, "version": string}`);
      return;
    }
    list.add(0, entry['name'], entry['version']);
  });
  return list.result();
}

/**
 * A distribution's core metadata (RFC 822 headers: `Name:`, `Version:`), from `*.dist-info/METADATA`
 * or `*.egg-info/PKG-INFO`. The headers end at the first empty line; the description follows.
 */
export function parsePythonMetadata(text: string, owner: Owner): ThirdPartyParseResult {
  const list = newList('PyPI', owner);
  const fields = new Map<string, { value: string; line: number }>();
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw === '') break;
    if (/^[ \t]/.test(raw)) continue; // continuation of a long header
    const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(raw);
    if (m === null) {
      list.warnings.add(i + 1, `not a metadata header: ${showLine(raw)}`);
      continue;
    }
    const key = m[1].toLowerCase();
    if (!fields.has(key)) fields.set(key, { value: m[2].trim(), line: i + 1 });
  }
  const name = fields.get('name');
  const version = fields.get('version');
  if (name === undefined || version === undefined) {
    return list.result({ error: `metadata has no ${name === undefined ? 'Name' : 'Version'} header` });
  }
  list.add(name.line, name.value, version.value);
  return list.result();
}

/** pip's per-line and global options that take a value (`--index-url URL`, `-i URL`). */
const OPTIONS_WITH_VALUE = new Set([
  '-i',
  '--index-url',
  '--extra-index-url',
  '-f',
  '--find-links',
  '--trusted-host',
  '--no-binary',
  '--only-binary',
  '--use-feature',
  '--config-settings',
  '--global-option',
  '--hash',
  '--progress-bar',
]);

const KNOWN_OPTIONS = new Set([
  ...OPTIONS_WITH_VALUE,
  '--pre',
  '--no-index',
  '--prefer-binary',
  '--require-hashes',
]);

const NAME = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$/;

/** Requirement text before any per-requirement option (` --hash=...`). */
function splitOptions(line: string): string {
  const m = /\s--?[A-Za-z]/.exec(line);
  return (m === null ? line : line.slice(0, m.index)).trim();
}

/** Logical lines: `\`-continued lines joined, comments removed; with the first physical line number. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current = '';
  let start = 0;
  splitLines(text).forEach((raw, index) => {
    if (current === '') start = index + 1;
    // A comment starts at `#` at the start of the line or after white space.
    const uncommented = raw.replace(/(^|\s)#.*$/, '$1');
    if (uncommented.endsWith('\\')) {
      current += `${uncommented.slice(0, -1)} `;
      return;
    }
    current += uncommented;
    if (current.trim() !== '') out.push({ text: current.trim(), line: start });
    current = '';
  });
  if (current.trim() !== '') out.push({ text: current.trim(), line: start });
  return out;
}

/** requirements.txt (pip's format). */
export function parseRequirementsTxt(text: string, owner: Owner): ThirdPartyParseResult {
  const list = newList('PyPI', owner);
  const unpinned: UnpinnedRequirement[] = [];
  const includes: IncludedFile[] = [];
  for (const { text: entry, line } of logicalLines(text)) {
    if (entry.startsWith('-')) {
      const m = /^(-r|--requirement|-c|--constraint|-e|--editable)(?:\s+|=)(\S+)/.exec(entry);
      if (m !== null) {
        if (m[1] === '-e' || m[1] === '--editable') {
          unpinned.push({ name: m[2], requirement: entry, line });
        } else {
          includes.push({
            path: m[2],
            kind: m[1] === '-c' || m[1] === '--constraint' ? 'constraints' : 'requirements',
            line,
          });
        }
        continue;
      }
      const option = entry.split(/[\s=]/, 1)[0] ?? entry;
      if (!KNOWN_OPTIONS.has(option))
        list.warnings.add(line, `unknown option ${showLine(option)}; line ignored`);
      continue; // a global option (index, find-links, --pre...): nothing installed by itself
    }
    const [requirementPart, markerPart] = splitMarker(splitOptions(entry));
    const marker = markerPart?.trim();
    // URL or path requirements: "name @ https://...", "git+https://...", "./pkg", "pkg.whl".
    const at = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*@\s*\S/.exec(requirementPart);
    if (at !== null) {
      unpinned.push({ name: at[1], requirement: requirementPart, line });
      continue;
    }
    const m = NAME.exec(requirementPart);
    if (m === null || /^[a-z+]+:\/\//i.test(requirementPart) || /[/\\]/.test(requirementPart)) {
      unpinned.push({ name: requirementPart, requirement: requirementPart, line });
      continue;
    }
    const name = m[1];
    const spec = m[3].replace(/^\((.*)\)$/, '$1').trim();
    const clauses = spec === '' ? [] : spec.split(',').map((c) => c.trim());
    const exact = clauses
      .map((c) => /^(===?)\s*([^\s=<>!~,*]+)$/.exec(c))
      .filter((x): x is RegExpExecArray => x !== null);
    if (exact.length === 1 && !spec.includes('*') && !spec.includes('${')) {
      list.add(line, name, exact[0][2], marker === undefined || marker === '' ? {} : { marker });
    } else {
      unpinned.push({ name, requirement: requirementPart, line });
    }
  }
  return list.result({ unpinned, includes });
}

/** "name==1.0 ; python_version < '3.8'" -> ["name==1.0", "python_version < '3.8'"]. */
function splitMarker(requirement: string): [string, string | undefined] {
  const i = requirement.indexOf(';');
  if (i === -1) return [requirement.trim(), undefined];
  return [requirement.slice(0, i).trim(), requirement.slice(i + 1)];
}

/** poetry.lock (TOML): `[[package]]` name, version, category, and `[package.source]`. */
export function parsePoetryLock(text: string, owner: Owner): ThirdPartyParseResult {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text);
  } catch (err) {
    return failed(
      `poetry.lock: invalid TOML (${(err instanceof Error ? err.message : String(err)).split('\n')[0]?.slice(0, 160)})`,
    );
  }
  const packages = doc['package'];
  if (!Array.isArray(packages)) return failed('poetry.lock: no [[package]] entries');
  const list = newList('PyPI', owner);
  packages.slice(0, MAX_PACKAGES).forEach((entry: unknown, index) => {
    if (!isObject(entry) || typeof entry['name'] !== 'string' || typeof entry['version'] !== 'string') {
      list.warnings.add(0, `package ${index}: expected name and version strings`);
      return;
    }
    const source = entry['source'];
    const sourceType = isObject(source) && typeof source['type'] === 'string' ? source['type'] : undefined;
    // "legacy" is another package index (a mirror or a private one): still registry packages.
    if (sourceType !== undefined && sourceType !== 'legacy') {
      list.warnings.add(
        0,
        `package ${entry['name']} ${entry['version']}: from a ${sourceType} source, not a package index; not matched`,
      );
      return;
    }
    list.add(0, entry['name'], entry['version'], entry['category'] === 'dev' ? { dev: true } : {});
  });
  return list.result();
}
