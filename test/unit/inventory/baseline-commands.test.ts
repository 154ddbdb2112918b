/**
 * The baseline collector's boundaries: the policy keys that name paths on hosts, the argument
 * lists sent (values from configuration stay single arguments), and what `deploy` says about the
 * kinds of change it does not roll out.
 */
import { describe, expect, it } from 'vitest';
import { checkPolicyText, formatPolicyIssue } from '../../../src/config/policy.js';
import {
  BASELINE_COMMANDS,
  distInfoCommand,
  isSafeAbsolutePath,
  lockfileFindCommand,
  pipListCommand,
} from '../../../src/inventory/baseline.js';
import type { HostRecord } from '../../../src/db/types.js';
import { baselineFixOf, languageDeployable } from '../../../src/usecases/approvals/view.js';
import { notDeployable } from '../../../src/usecases/deployments/service.js';

describe('policy inventory keys', () => {
  it('takes absolute paths and defaults to the system python3 and no lockfiles', () => {
    const check = checkPolicyText('inventory:\n  lockfiles: [/srv, /opt/app]\n');
    expect(check.errors).toEqual([]);
    expect(check.policy?.inventory).toMatchObject({
      firmware: true,
      python: ['/usr/bin/python3'],
      npm: true,
      lockfiles: ['/srv', '/opt/app'],
      lockfileDepth: 4,
    });
  });

  it.each([
    ['inventory:\n  python: [python3]\n', 'inventory.python[0]: expected an absolute path'],
    ['inventory:\n  lockfiles: [/srv/../etc]\n', 'inventory.lockfiles[0]'],
    ['inventory:\n  lockfiles: ["/srv/a\\nb"]\n', 'inventory.lockfiles[0]'],
    ['inventory:\n  lockfileDepth: 99\n', 'inventory.lockfileDepth'],
    ['inventory:\n  pip: true\n', 'inventory'],
  ])('refuses %j, naming %s', (yaml, path) => {
    const check = checkPolicyText(yaml);
    expect(check.policy).toBeUndefined();
    expect(check.errors.map(formatPolicyIssue).join('\n')).toContain(path);
  });
});

describe('baseline commands', () => {
  it('are argument lists: a configured path is one argument, whatever it holds', () => {
    const odd = "/srv/it's a dir;rm -rf x";
    expect(lockfileFindCommand(odd, 3).args[0]).toBe(odd);
    expect(lockfileFindCommand(odd, 3).args).toContain('requirements*.txt');
    expect(lockfileFindCommand(odd, 3).args.slice(1, 3)).toEqual(['-maxdepth', '3']);
    expect(distInfoCommand(odd).args[0]).toBe(odd);
    expect(pipListCommand('/opt/py/bin/python3')).toEqual({
      command: '/opt/py/bin/python3',
      args: ['-m', 'pip', 'list', '--format=json', '--disable-pip-version-check'],
    });
    // fwupd is read through the daemon first, and nothing asks for sudo
    expect(BASELINE_COMMANDS.fwupdDevices).toEqual({ command: 'fwupdmgr', args: ['get-devices', '--json'] });
    expect(BASELINE_COMMANDS.dmi.args.filter((a) => /serial|uuid/.test(a))).toEqual([]);
  });

  it('reads only absolute paths without ".." or control characters', () => {
    expect(isSafeAbsolutePath('/srv/app/requirements.txt')).toBe(true);
    expect(isSafeAbsolutePath('srv/app')).toBe(false);
    expect(isSafeAbsolutePath('/srv/../etc/shadow')).toBe(false);
    expect(isSafeAbsolutePath('/srv/a\nb')).toBe(false);
  });
});

describe('what patchbot does not deploy', () => {
  const finding = (ownerKind: string, owner: string) => ({
    findingId: 'f',
    hostId: 'h',
    hostName: 'web-1',
    packageName: 'Jinja2',
    sourcePackage: 'Jinja2',
    installedVersion: '2.10.1',
    fixedVersion: '2.11.3',
    owner,
    ownerKind,
  });

  it('refuses lockfile and metadata-only changes with the reason; deploys OS, firmware, pip and npm ones', () => {
    const base = { number: 7, packageName: 'Jinja2', fixedVersion: '2.11.3', ecosystem: 'PyPI' };
    expect(notDeployable({ ...base, kind: 'os', findings: [] })).toBeUndefined();
    expect(notDeployable({ ...base, kind: 'firmware', findings: [] })).toBeUndefined();
    expect(
      notDeployable({
        ...base,
        kind: 'third-party',
        findings: [finding('lockfile', '/srv/app/requirements.txt')],
      }),
    ).toContain('bumps Jinja2 to 2.11.3 in lockfiles (/srv/app/requirements.txt)');
    // pip of an interpreter: deployable (policy deployments.languagePackages decides per host)
    expect(
      notDeployable({ ...base, kind: 'third-party', findings: [finding('interpreter', '/usr/bin/python3')] }),
    ).toBeUndefined();
    expect(
      notDeployable({
        ...base,
        kind: 'third-party',
        findings: [finding('site-packages', '/usr/lib/python3/dist-packages')],
      }),
    ).toContain('no interpreter of policy inventory.python lists it with pip');
    expect(
      notDeployable({
        ...base,
        ecosystem: 'crates.io',
        kind: 'third-party',
        findings: [finding('interpreter', '/usr/bin/python3')],
      }),
    ).toContain('patchbot deploys only pip and global npm packages');
  });

  it('offers Request and Approve for pip and npm changes only where policy opens every host', () => {
    const host = (name: string, labels: Record<string, string>) =>
      ({ name, labels, groups: [], environment: 'production', team: null }) as unknown as HostRecord;
    const hosts = [host('app-1', { python: 'managed' }), host('ops-1', {})];
    const policy = {
      inventory: { python: ['/usr/bin/python3'] },
      deployments: {
        languagePackages: [{ match: { labels: { python: ['managed'] } }, pip: true, npm: false }],
      },
    } as unknown as Parameters<typeof languageDeployable>[0];
    const pipOn = (hostName: string, owner = '/usr/bin/python3', ownerKind = 'interpreter') => [
      { hostName, owner, ownerKind },
    ];
    const pypi = { kind: 'third-party' as const, ecosystem: 'PyPI' };
    expect(languageDeployable(policy, pypi, pipOn('app-1'), hosts)).toBe(true);
    expect(languageDeployable(policy, pypi, pipOn('ops-1'), hosts)).toBe(false);
    expect(languageDeployable(policy, pypi, pipOn('app-1', '/opt/py/bin/python3'), hosts)).toBe(false);
    expect(languageDeployable(policy, pypi, pipOn('app-1', '/srv/req.txt', 'lockfile'), hosts)).toBe(false);
    expect(
      languageDeployable(
        policy,
        { kind: 'third-party', ecosystem: 'npm' },
        pipOn('app-1', '/usr/local', 'global-npm'),
        hosts,
      ),
    ).toBe(false);
    expect(languageDeployable(policy, { kind: 'os', ecosystem: 'Debian:12' }, pipOn('app-1'), hosts)).toBe(
      false,
    );
  });

  it('says where a language-package fix applies and the exact command to run', () => {
    const view = baselineFixOf(
      { kind: 'third-party', packageName: 'requests', fixedVersion: '2.31.0', ecosystem: 'PyPI' },
      [
        {
          hostName: 'app-1',
          owner: '/usr/bin/python3',
          ownerKind: 'interpreter',
          packageName: 'requests',
          installedVersion: '2.28.1',
        },
      ],
    );
    expect(view).toEqual({
      places: ['app-1: pip of /usr/bin/python3 (requests 2.28.1)'],
      note: "upgrade requests to 2.31.0 where listed: once approved, patchbot deploys it on hosts policy deployments.languagePackages allows; elsewhere run `python3 -m pip install --upgrade 'requests==2.31.0'` with each interpreter listed.",
    });
    expect(
      baselineFixOf({ kind: 'os', packageName: 'glibc', fixedVersion: '2', ecosystem: 'Debian:12' }, []),
    ).toBeUndefined();
  });
});
