/**
 * Language package managers, system-wide only: pip of one Python interpreter and global npm.
 *
 * - pip: `<interpreter> -m pip install --upgrade --no-deps --disable-pip-version-check -- name==version`
 *   (as root). `--no-deps` keeps the change to the one package the advisory names: pip does not
 *   upgrade or pull in anything else on its own. The interpreter is an absolute path of policy
 *   `inventory.python`, checked when the deployment is planned and again here.
 * - npm: `npm install -g --no-fund --no-audit -- name@version` (as root), the global prefix npm
 *   itself reports (`npm prefix -g`).
 *
 * Names are checked against the registry's rules (PEP 508 names; npm names, scoped or not),
 * versions against PEP 440 / semver and a printable-ASCII pattern without white space, quotes or
 * shell metacharacters; a leading `-` or `..` is refused everywhere. Installed versions are read back
 * with the same commands inventory uses (`pip list --format=json`, `npm ls -g --json`).
 *
 * Rollback reinstalls the recorded version the same way; the index keeps old versions unless they
 * were yanked or unpublished, which `pip index versions` / `npm view <name> versions --json` show.
 */
import type { LanguagePackageTool } from '../../core/deployments/state.js';
import { ValidationError } from '../../core/errors.js';
import type { ThirdPartyEcosystem } from '../../core/model.js';
import { isValidPep440 } from '../../core/versions/pep440.js';
import { isValidSemver } from '../../core/versions/semver.js';
import { isObject, nameProblem, readJsonDocument } from '../../inventory/parsers/third-party/common.js';
import { parseNpmLs } from '../../inventory/parsers/third-party/npm.js';
import { parsePipList } from '../../inventory/parsers/third-party/python.js';
import type { CommandSpec, PackageManagerDriver, PackageTarget } from './types.js';
import { MAX_TARGETS } from './validate.js';

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+!-]{0,127}$/;
// An absolute path of plain characters: no white space, quotes, shell metacharacters or `..`.
const INTERPRETER_PATTERN = /^\/[A-Za-z0-9._+/-]{1,4095}$/;

/** Why an interpreter path is refused, or undefined when it is a plain absolute path. */
export function interpreterProblem(path: string): string | undefined {
  if (!INTERPRETER_PATTERN.test(path) || path.split('/').includes('..') || path.includes('//')) {
    return `invalid Python interpreter ${JSON.stringify(path.slice(0, 120))}: expected an absolute path of letters, digits and . _ + - /`;
  }
  return undefined;
}

function ecosystemOf(tool: LanguagePackageTool): ThirdPartyEcosystem {
  return tool === 'pip' ? 'PyPI' : 'npm';
}

function checkLanguageName(tool: LanguagePackageTool, name: unknown): string {
  if (typeof name !== 'string')
    throw new ValidationError(`package name must be a string, got ${typeof name}`);
  const problem = nameProblem(ecosystemOf(tool), name);
  if (problem !== undefined) throw new ValidationError(problem, { details: { name: name.slice(0, 200) } });
  if (name.includes('..') || name.startsWith('-')) {
    throw new ValidationError(`invalid ${ecosystemOf(tool)} package name ${JSON.stringify(name)}`, {
      details: { name },
    });
  }
  return name;
}

function checkLanguageVersion(tool: LanguagePackageTool, name: string, version: unknown): string {
  if (typeof version !== 'string') {
    throw new ValidationError(`version of ${name} must be a string, got ${typeof version}`);
  }
  const valid = tool === 'pip' ? isValidPep440(version) : isValidSemver(version);
  if (!VERSION_PATTERN.test(version) || version.includes('..') || !valid) {
    throw new ValidationError(
      `invalid ${tool === 'pip' ? 'PEP 440' : 'semver'} version ${JSON.stringify(version.slice(0, 80))} (package ${name})`,
      { details: { name, version: version.slice(0, 200) } },
    );
  }
  return version;
}

/** The targets, checked: names, versions, no architecture, each name once. */
export function checkLanguageTargets(
  tool: LanguagePackageTool,
  targets: readonly PackageTarget[],
): PackageTarget[] {
  if (targets.length === 0) throw new ValidationError('expected at least one package to install');
  if (targets.length > MAX_TARGETS) {
    throw new ValidationError(
      `expected at most ${MAX_TARGETS} packages in one command, got ${targets.length}`,
    );
  }
  const seen = new Set<string>();
  return targets.map((t) => {
    const name = checkLanguageName(tool, t.name);
    const version = checkLanguageVersion(tool, name, t.version);
    if (t.arch !== undefined)
      throw new ValidationError(`${tool} packages have no architecture (package ${name})`);
    const key = tool === 'pip' ? name.toLowerCase().replace(/[-_.]+/g, '-') : name;
    if (seen.has(key)) throw new ValidationError(`package ${name} is listed twice; one version per package`);
    seen.add(key);
    return { name, version };
  });
}

function checkLanguageNames(tool: LanguagePackageTool, names: readonly string[]): string[] {
  if (names.length === 0) throw new ValidationError('expected at least one package name');
  if (names.length > MAX_TARGETS) {
    throw new ValidationError(`expected at most ${MAX_TARGETS} package names, got ${names.length}`);
  }
  return names.map((n) => checkLanguageName(tool, n));
}

/** PEP 503 normalized name: how pip matches `Foo_Bar` and `foo-bar`. */
export function normalizePypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

const PIP = ['-m', 'pip'];
const PIP_INSTALL = [
  ...PIP,
  'install',
  '--upgrade',
  '--no-deps',
  '--disable-pip-version-check',
  '--no-input',
];

/** The pip driver of one interpreter (an absolute path of policy inventory.python). */
export function pipDriver(interpreter: string): PackageManagerDriver {
  const problem = interpreterProblem(interpreter);
  if (problem !== undefined) throw new ValidationError(problem);
  const installSpec = (targets: readonly PackageTarget[]): CommandSpec => ({
    command: interpreter,
    args: [
      ...PIP_INSTALL,
      '--',
      ...checkLanguageTargets('pip', targets).map((t) => `${t.name}==${t.version}`),
    ],
  });
  return {
    tool: 'pip',
    kind: 'PyPI',
    install: installSpec,
    // pip installs an older version the same way (--upgrade replaces whatever is installed)
    rollback: installSpec,
    queryInstalled(names) {
      checkLanguageNames('pip', names);
      return { command: interpreter, args: [...PIP, 'list', '--format=json', '--disable-pip-version-check'] };
    },
    parseInstalled(stdout, names) {
      const wanted = new Map(names.map((n) => [normalizePypiName(n), n]));
      const out = new Map<string, string[]>();
      for (const p of parsePipList(stdout, { owner: interpreter, ownerKind: 'interpreter' }).packages) {
        const name = wanted.get(normalizePypiName(p.name));
        if (name !== undefined) out.set(name, [...(out.get(name) ?? []), p.version]);
      }
      return out;
    },
    availableVersions(name) {
      return {
        command: interpreter,
        args: [
          ...PIP,
          'index',
          'versions',
          '--disable-pip-version-check',
          '--',
          checkLanguageName('pip', name),
        ],
      };
    },
    /** `pip index versions`: `name (latest)` then `Available versions: 2.0, 1.9, ...`. */
    parseAvailableVersions(stdout) {
      const line = stdout.split('\n').find((l) => l.startsWith('Available versions:'));
      if (line === undefined) return [];
      return line
        .slice('Available versions:'.length)
        .split(',')
        .map((v) => v.trim())
        .filter((v) => VERSION_PATTERN.test(v) && isValidPep440(v));
    },
    // pip keeps no transaction journal: the installed versions are the whole truth
    audit: () => undefined,
    interpretAudit: () => undefined,
    rebootCheck: () => undefined,
    // a language package never needs the host rebooted; its services are the health checks' business
    interpretRebootCheck: () => false,
  };
}

export const npmDriver: PackageManagerDriver = {
  tool: 'npm',
  kind: 'npm',
  install(targets) {
    return {
      command: 'npm',
      args: [
        'install',
        '-g',
        '--no-fund',
        '--no-audit',
        '--',
        ...checkLanguageTargets('npm', targets).map((t) => `${t.name}@${t.version}`),
      ],
    };
  },
  rollback(targets) {
    return npmDriver.install(targets);
  },
  queryInstalled(names) {
    checkLanguageNames('npm', names);
    return { command: 'npm', args: ['ls', '-g', '--json', '--depth=0'] };
  },
  parseInstalled(stdout, names) {
    const wanted = new Set(names);
    const out = new Map<string, string[]>();
    // only the top level: a global package, not a copy nested in another one
    const read = readJsonDocument(stdout, 'npm ls');
    if ('error' in read || !isObject(read.value) || !isObject(read.value['dependencies'])) return out;
    const top = {
      dependencies: Object.fromEntries(
        Object.entries(read.value['dependencies']).map(([k, v]) => [
          k,
          isObject(v) ? { ...v, dependencies: {} } : v,
        ]),
      ),
    };
    for (const p of parseNpmLs(JSON.stringify(top), { owner: 'npm -g', ownerKind: 'global-npm' }).packages) {
      if (wanted.has(p.name)) out.set(p.name, [...(out.get(p.name) ?? []), p.version]);
    }
    return out;
  },
  availableVersions(name) {
    return { command: 'npm', args: ['view', '--json', '--', checkLanguageName('npm', name), 'versions'] };
  },
  /** `npm view NAME versions --json`: a JSON list (or one string when there is one version). */
  parseAvailableVersions(stdout) {
    const read = readJsonDocument(stdout, 'npm view');
    if ('error' in read) return [];
    const list = Array.isArray(read.value) ? read.value : [read.value];
    return list.filter(
      (v): v is string => typeof v === 'string' && VERSION_PATTERN.test(v) && isValidSemver(v),
    );
  },
  audit: () => undefined,
  interpretAudit: () => undefined,
  rebootCheck: () => undefined,
  interpretRebootCheck: () => false,
};
