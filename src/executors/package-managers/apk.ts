/**
 * apk (Alpine). `apk add name=version` pins the exact version. apk installs the host's own
 * architecture only, so a target's `arch` is checked but not passed. apk gets no `--`: names and
 * versions can never start with `-` (the patterns refuse it).
 *
 * Rollback uses the same command with the older version; it only works while a configured
 * repository still offers that version (see rollbackEligibility in src/core/deployments/state.ts).
 * Alpine has no reboot-required marker: a reboot is needed when a kernel package changed. Installs
 * wait up to LOCK_WAIT_SECONDS for another apk run to release the database lock (`--wait`). apk has
 * no half-installed package states to check after an unknown result: the installed versions decide.
 * The argument shape is fixed: docs/patchbot.sudoers allows exactly it.
 */
import { versionProblem } from '../../core/packages/names.js';
import { parseApkInstalled } from '../../inventory/parsers/apk.js';
import { checkName, checkTargets } from './validate.js';
import { LOCK_WAIT_SECONDS, type CommandSpec, type PackageManagerDriver } from './types.js';

const APK_ADD = ['add', '--no-interactive', '--wait', String(LOCK_WAIT_SECONDS)];

/** Alpine kernel flavours (linux-lts, linux-virt, linux-edge, linux-rpi...). */
export const APK_KERNEL_PACKAGE = /^linux-(lts|virt|edge|stable|rpi\d*)$/;

export const apkDriver: PackageManagerDriver = {
  tool: 'apk',
  kind: 'apk',
  install(targets): CommandSpec {
    const checked = checkTargets('apk', 'apk', targets);
    return {
      command: 'apk',
      args: [...APK_ADD, ...checked.map((t) => `${t.name}=${t.version}`)],
    };
  },
  rollback(targets): CommandSpec {
    const checked = checkTargets('apk', 'apk', targets);
    return {
      command: 'apk',
      args: [...APK_ADD, ...checked.map((t) => `${t.name}=${t.version}`)],
    };
  },
  audit: () => undefined,
  interpretAudit: () => undefined,
  /** The installed database, the same read the inventory does (names are filtered after parsing). */
  queryInstalled(names): CommandSpec {
    names.forEach((n) => checkName('apk', n));
    return { command: 'grep', args: ['-E', '^([PVAo]:|$)', '/lib/apk/db/installed'] };
  },
  parseInstalled(stdout, names) {
    const wanted = new Set(names);
    const out = new Map<string, string[]>();
    for (const p of parseApkInstalled(stdout).packages) {
      if (!wanted.has(p.name)) continue;
      out.set(p.name, [...(out.get(p.name) ?? []), p.version]);
    }
    return out;
  },
  availableVersions(name): CommandSpec {
    return { command: 'apk', args: ['policy', checkName('apk', name)] };
  },
  /**
   * `apk policy name`: `name policy:` then per version a line `  1.2.3-r0:` followed by the
   * repositories (indented further) that offer it; `lib/apk/db/installed` marks the installed one.
   */
  parseAvailableVersions(stdout) {
    const versions: string[] = [];
    let current: string | undefined;
    let offered = false;
    const flush = () => {
      if (current !== undefined && offered && !versions.includes(current)) versions.push(current);
    };
    for (const line of stdout.split('\n')) {
      const v = /^ {2}(\S+):$/.exec(line);
      if (v) {
        flush();
        current = versionProblem('apk', v[1] ?? '') === undefined ? v[1] : undefined;
        offered = false;
      } else if (/^ {4}\S/.test(line) && !line.trim().endsWith('lib/apk/db/installed')) {
        offered = true;
      }
    }
    flush();
    return versions;
  },
  rebootCheck: () => undefined,
  interpretRebootCheck(_result, changedPackages) {
    return changedPackages.some((p) => APK_KERNEL_PACKAGE.test(p));
  },
};
