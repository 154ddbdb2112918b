/**
 * npm packages: `npm ls -g --json [--all]` (the global prefix's packages) and package-lock.json
 * versions 1 (nested `dependencies`), 2 and 3 (`packages` keyed by `node_modules/...` path).
 * Only packages from the registry count: `file:`, `link:`, git and tarball URLs and workspace
 * links are skipped with a warning naming them. Aliases (`"node_modules/x": {"name": "y"}`)
 * count as the package they really are. One package per name and version.
 */
import {
  failed,
  isObject,
  newList,
  readJsonDocument,
  type Owner,
  type PackageList,
  type ThirdPartyParseResult,
} from './common.js';

const MAX_DEPTH = 64;
const MAX_ENTRIES = 200_000;

/** A version that is not a registry version: a path, a link, a URL, a git reference. */
function nonRegistry(version: string): boolean {
  return (
    /^(?:file:|link:|git\+|git:|github:|gitlab:|bitbucket:|https?:|npm:)/.test(version) ||
    version.includes('/')
  );
}

/** `npm ls -g --json`: `{ "dependencies": { name: { version, dependencies? } } }`. */
export function parseNpmLs(text: string, owner: Owner): ThirdPartyParseResult {
  const read = readJsonDocument(text, 'npm ls');
  if ('error' in read) return failed(read.error);
  if (!isObject(read.value)) return failed('npm ls: expected a JSON object');
  const list = newList('npm', owner);
  let count = 0;
  const walk = (deps: unknown, depth: number, path: string): void => {
    if (!isObject(deps) || depth > MAX_DEPTH) return;
    for (const [name, entry] of Object.entries(deps)) {
      if (++count > MAX_ENTRIES) return;
      const where = path === '' ? name : `${path} > ${name}`;
      if (!isObject(entry)) continue;
      const version = entry['version'];
      if (typeof version !== 'string') {
        const why = entry['missing'] === true ? 'missing (not installed)' : 'has no version';
        list.warnings.add(0, `${where}: ${why}; not counted`);
      } else if (nonRegistry(version)) {
        list.warnings.add(
          0,
          `${where}: ${JSON.stringify(version.slice(0, 80))} is not from the npm registry; not matched`,
        );
      } else {
        list.add(0, name, version);
      }
      walk(entry['dependencies'], depth + 1, where);
    }
  };
  walk(read.value['dependencies'], 0, '');
  if (count > MAX_ENTRIES) list.warnings.add(0, `more than ${MAX_ENTRIES} entries; the rest were not read`);
  return list.result();
}

function addLockEntry(list: PackageList, where: string, name: string, entry: Record<string, unknown>): void {
  const version = entry['version'];
  if (typeof version !== 'string') {
    list.warnings.add(0, `${where}: no version; not counted`);
    return;
  }
  if (nonRegistry(version)) {
    list.warnings.add(
      0,
      `${where}: ${JSON.stringify(version.slice(0, 80))} is not from the npm registry; not matched`,
    );
    return;
  }
  const dev = entry['dev'] === true;
  list.add(0, name, version, dev ? { dev } : {});
}

/** package-lock.json (or npm-shrinkwrap.json), lockfileVersion 1, 2 or 3. */
export function parsePackageLock(text: string, owner: Owner): ThirdPartyParseResult {
  const read = readJsonDocument(text, 'package-lock.json');
  if ('error' in read) return failed(read.error);
  const doc = read.value;
  if (!isObject(doc)) return failed('package-lock.json: expected a JSON object');
  const lockfileVersion = doc['lockfileVersion'];
  if (lockfileVersion !== 1 && lockfileVersion !== 2 && lockfileVersion !== 3) {
    return failed(
      `package-lock.json: unsupported lockfileVersion ${JSON.stringify(lockfileVersion ?? null)} (1, 2 or 3 expected)`,
    );
  }
  const list = newList('npm', owner);
  if (lockfileVersion !== 1 && isObject(doc['packages'])) {
    let count = 0;
    for (const [path, entry] of Object.entries(doc['packages'])) {
      if (++count > MAX_ENTRIES) {
        list.warnings.add(0, `more than ${MAX_ENTRIES} entries; the rest were not read`);
        break;
      }
      if (path === '' || !isObject(entry)) continue; // the project itself
      const i = path.lastIndexOf('node_modules/');
      if (i === -1) continue; // a workspace folder: the project's own code
      if (entry['link'] === true) continue; // a symlink to a workspace folder
      const name = typeof entry['name'] === 'string' ? entry['name'] : path.slice(i + 'node_modules/'.length);
      addLockEntry(list, path, name, entry);
    }
    return list.result();
  }
  if (lockfileVersion === 2)
    list.warnings.add(0, 'lockfileVersion 2 without "packages": read from "dependencies"');
  let count = 0;
  const walk = (deps: unknown, depth: number, path: string): void => {
    if (!isObject(deps) || depth > MAX_DEPTH) return;
    for (const [name, entry] of Object.entries(deps)) {
      if (++count > MAX_ENTRIES || !isObject(entry)) continue;
      const where = path === '' ? name : `${path} > ${name}`;
      addLockEntry(list, where, name, entry);
      walk(entry['dependencies'], depth + 1, where);
    }
  };
  walk(doc['dependencies'], 0, '');
  if (count > MAX_ENTRIES) list.warnings.add(0, `more than ${MAX_ENTRIES} entries; the rest were not read`);
  return list.result();
}
