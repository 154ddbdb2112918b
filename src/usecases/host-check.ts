/**
 * `patchbot hosts check NAME`: whether a host gives patchbot exactly what a deployment needs, read
 * only. It connects with the pinned host key, then:
 *
 * - finds the host's package manager (its latest inventory, or which one the host has);
 * - when the host runs package commands through sudo, asks sudo itself (`sudo -n -l <command>`,
 *   which runs nothing) whether each command a deployment sends as root is allowed as patchbot
 *   builds it (install, rollback, reboot), and whether the variables they need are kept
 *   (`env_keep`) and no terminal is required; as root, that it is root;
 * - runs the reads a deployment runs as the user (installed versions, the package database check,
 *   the reboot check, the boot id) and checks that the job records directory can be used.
 *
 * Each item says what is missing and how to fix it (docs/patchbot.sudoers). Nothing on the host
 * changes.
 */
import { PatchbotError, userMessageOf } from '../core/errors.js';
import type { OsPackageTool as PackageTool } from '../core/deployments/state.js';
import type { HostRecord } from '../db/types.js';
import type { ExecResult, Executor } from '../executors/executor.js';
import { JOB_DIR } from '../executors/jobs.js';
import { driverFor, type CommandSpec, type PackageTarget } from '../executors/package-managers/index.js';
import { toolFor } from './deployments/plan.js';
import { executorFor, type InventoryDeps } from './inventory.js';

export interface HostCheckItem {
  /** What was checked ("sudo: apt-get install (exact versions)"). */
  name: string;
  ok: boolean;
  /** What was found, or what is missing and how to fix it. */
  detail: string;
}

export interface HostCheckReport {
  host: string;
  address: string;
  user: string;
  tool: PackageTool | null;
  /** How the tool was found. */
  toolSource: 'inventory' | 'detected' | 'none';
  sudo: boolean;
  items: HostCheckItem[];
  ok: boolean;
}

const TOOLS: Record<string, PackageTool> = {
  'apt-get': 'apt',
  dnf: 'dnf',
  yum: 'yum',
  zypper: 'zypper',
  apk: 'apk',
};

/** A package name and version each tool accepts, for asking sudo about the command's shape. */
const SAMPLE: Record<PackageTool, PackageTarget> = {
  apt: { name: 'patchbot-check', version: '1.0-1' },
  dnf: { name: 'patchbot-check', version: '1.0-1.el9' },
  yum: { name: 'patchbot-check', version: '1.0-1.el7' },
  zypper: { name: 'patchbot-check', version: '1.0-1.1' },
  apk: { name: 'patchbot-check', version: '1.0-r0' },
};

const DETECT =
  'for p in apt-get dnf yum zypper apk; do command -v "$p" >/dev/null 2>&1 && echo "$p"; done; exit 0';
const JOB_DIR_USABLE = `d="\${HOME:-.}"; if [ -d "$d/${JOB_DIR}" ]; then [ -w "$d/${JOB_DIR}" ]; else [ -w "$d" ] || [ -w "$d/.patchbot" ]; fi`;

export interface HostCheckDeps extends InventoryDeps {
  config: InventoryDeps['config'] & {
    policy: InventoryDeps['config']['policy'] & { deployments: { sudo: boolean } };
  };
}

export async function checkHost(deps: HostCheckDeps, host: HostRecord): Promise<HostCheckReport> {
  const policyHost = deps.config.policy.hosts.find((h) => h.name === host.name);
  const sudo = (policyHost as { sudo?: boolean } | undefined)?.sudo ?? deps.config.policy.deployments.sudo;
  const user = host.sshUser ?? deps.config.policy.ssh.user;
  const items: HostCheckItem[] = [];
  const report = (toolValue: PackageTool | null, source: HostCheckReport['toolSource']): HostCheckReport => ({
    host: host.name,
    address: `${host.address}:${host.port}`,
    user,
    tool: toolValue,
    toolSource: source,
    sudo,
    items,
    ok: items.every((i) => i.ok),
  });

  let ex: Executor;
  try {
    ex = executorFor(deps, host);
  } catch (err) {
    items.push({ name: 'connect', ok: false, detail: userMessageOf(err) });
    return report(null, 'none');
  }
  try {
    const run = (spec: CommandSpec, sudoIt = false): Promise<ExecResult> =>
      ex.exec({
        command: spec.command,
        args: spec.args,
        sudo: sudoIt,
        timeoutMs: deps.config.policy.ssh.commandTimeout,
      });
    let whoami: ExecResult;
    try {
      whoami = await run({ command: 'id', args: ['-u'] });
    } catch (err) {
      items.push({ name: 'connect', ok: false, detail: userMessageOf(err) });
      return report(null, 'none');
    }
    const uid = whoami.stdout.trim();
    items.push({
      name: 'connect',
      ok: true,
      detail: `logged in as ${user} (uid ${uid || '?'}) with the pinned host key`,
    });

    // the package manager
    let tool: PackageTool | null = null;
    let source: HostCheckReport['toolSource'] = 'none';
    const snapshot = await deps.repos.inventory.latest(host.name);
    if (snapshot) {
      tool = toolFor(
        {
          hostId: snapshot.hostId,
          packageManager: snapshot.packageManager,
          osId: snapshot.os.id,
          osVersionId: snapshot.os.versionId,
          packages: [],
        },
        '',
      );
      source = 'inventory';
    } else {
      const found = (await run({ command: 'sh', args: ['-c', DETECT] })).stdout
        .split('\n')
        .map((l) => l.trim());
      const name = found.find((f) => TOOLS[f] !== undefined);
      if (name) {
        tool = TOOLS[name] ?? null;
        source = 'detected';
      }
    }
    if (tool === null) {
      items.push({
        name: 'package manager',
        ok: false,
        detail: 'no inventory yet and none of apt-get, dnf, yum, zypper, apk found on the host',
      });
      return report(null, 'none');
    }
    const driver = driverFor(tool);
    items.push({
      name: 'package manager',
      ok: true,
      detail: `${tool} (${source === 'inventory' ? 'from the latest inventory' : 'found on the host'})`,
    });

    // what runs as root
    const install = driver.install([SAMPLE[tool]]);
    const rollback = driver.rollback([SAMPLE[tool]]);
    const rootCommands: [string, CommandSpec][] = [
      [`${install.command} install (exact versions)`, install],
      [`${rollback.command} rollback (older exact versions)`, rollback],
      ['reboot', { command: 'reboot', args: [] }],
    ];
    const envNeeded = [...new Set([...Object.keys(install.env ?? {}), ...Object.keys(rollback.env ?? {})])];
    if (sudo) {
      const list = await run({ command: 'sudo', args: ['-n', '-l'] });
      const listed = `${list.stdout}${list.stderr}`;
      if (list.exitCode !== 0) {
        items.push({
          name: 'sudo -n -l',
          ok: false,
          detail: `sudo refused to list ${user}'s rights without a password: ${firstLine(listed)}; install docs/patchbot.sudoers (NOPASSWD) for ${user}`,
        });
      } else {
        items.push({ name: 'sudo -n -l', ok: true, detail: `${user} may use sudo without a password` });
        if (/(^|[\s,])requiretty\b/.test(listed.replace(/!requiretty/g, ''))) {
          items.push({
            name: 'sudo: no terminal required',
            ok: false,
            detail: `sudoers requires a terminal (requiretty); add "Defaults:${user} !requiretty" (docs/patchbot.sudoers)`,
          });
        }
        if (envNeeded.length > 0 && !/!env_reset/.test(listed)) {
          const missing = envNeeded.filter((v) => !new RegExp(`env_keep\\+?=[^\\n]*\\b${v}\\b`).test(listed));
          items.push({
            name: `sudo keeps ${envNeeded.join(', ')}`,
            ok: missing.length === 0,
            detail:
              missing.length === 0
                ? 'env_keep has them'
                : `not kept: ${missing.join(', ')}; add "Defaults:${user} env_keep += \\"${envNeeded.join(' ')}\\"" (docs/patchbot.sudoers)`,
          });
        }
      }
      for (const [name, spec] of rootCommands) {
        const r = await run({ command: 'sudo', args: ['-n', '-l', spec.command, ...spec.args] });
        items.push({
          name: `sudo: ${name}`,
          ok: r.exitCode === 0,
          detail:
            r.exitCode === 0
              ? `allowed: ${firstLine(r.stdout)}`
              : `not allowed: ${spec.command} ${spec.args.join(' ')}; add its rule from docs/patchbot.sudoers${r.stderr.trim() ? ` (${firstLine(r.stderr)})` : ''}`,
        });
      }
    } else {
      items.push({
        name: 'root',
        ok: uid === '0',
        detail:
          uid === '0'
            ? 'logged in as root (deployments.sudo is off for this host)'
            : `deployments.sudo is off for this host but ${user} is not root (uid ${uid}): turn sudo on and install docs/patchbot.sudoers`,
      });
    }

    // what runs as the user
    const probe = tool === 'apk' ? 'musl' : tool === 'apt' ? 'dpkg' : 'rpm';
    const reads: [string, CommandSpec | undefined, (r: ExecResult) => boolean][] = [
      [
        'read the installed versions',
        driver.queryInstalled([probe]),
        (r) => r.exitCode !== null && r.exitCode <= 1,
      ],
      [
        'check the package database',
        driver.audit([probe]),
        (r) => driver.interpretAudit(r, [probe])?.broken === false,
      ],
      [
        'reboot check',
        driver.rebootCheck(),
        (r) => driver.interpretRebootCheck({ exitCode: r.exitCode, stdout: r.stdout }, []) !== undefined,
      ],
      [
        'read the boot id',
        { command: 'cat', args: ['/proc/sys/kernel/random/boot_id'] },
        (r) => r.exitCode === 0,
      ],
      ['job records directory', { command: 'sh', args: ['-c', JOB_DIR_USABLE] }, (r) => r.exitCode === 0],
    ];
    for (const [name, spec, good] of reads) {
      if (!spec) continue;
      try {
        const r = await run(spec);
        items.push({
          name,
          ok: good(r),
          detail: good(r)
            ? spec.command === 'sh'
              ? `~/${JOB_DIR} can be written (as ${user})`
              : `${spec.command} ${spec.args.join(' ')}`.slice(0, 120)
            : spec.command === 'sh'
              ? `~/${JOB_DIR} cannot be created or written by ${user}: installs record their results there`
              : `${spec.command} exited with ${r.exitCode}: ${firstLine(r.stderr || r.stdout) || 'no output'}`,
        });
      } catch (err) {
        items.push({ name, ok: false, detail: userMessageOf(err) });
      }
    }
    return report(tool, source);
  } catch (err) {
    if (err instanceof PatchbotError) {
      items.push({ name: 'check', ok: false, detail: err.userMessage });
      return report(null, 'none');
    }
    throw err;
  } finally {
    await ex.close();
  }
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 300);
}
