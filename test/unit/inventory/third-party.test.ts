/**
 * Third-party package parsers over real data: this project's Debian 12 VM (`pip list` of the
 * system python3, `npm ls -g --all`, dist-info/egg-info metadata), lockfiles npm 11 wrote in v1,
 * v2 and v3 for one project, files the Debian `ansible` package ships (requirements.txt,
 * poetry.lock), spf13/cobra's go.sum, ripgrep's Cargo.lock, a Gemfile.lock.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ThirdPartyPackage } from '../../../src/core/model.js';
import {
  parseCargoLock,
  parseGemfileLock,
  parseGoSum,
  parseNpmLs,
  parsePackageLock,
  parsePipList,
  parsePoetryLock,
  parsePythonMetadata,
  parseRequirementsTxt,
} from '../../../src/inventory/parsers/third-party/index.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/third-party');
const read = (p: string): string => readFileSync(path.join(FIXTURES, p), 'utf8');
const lock = (p: string) => ({ owner: `/srv/app/${p}`, ownerKind: 'lockfile' as const });
const nv = (ps: readonly ThirdPartyPackage[]): string[] => ps.map((p) => `${p.name}@${p.version}`);

describe('Python', () => {
  it('reads pip list of the system python3 with its owner', () => {
    const owner = { owner: '/usr/bin/python3', ownerKind: 'interpreter' as const };
    const r = parsePipList(read('pip-list.debian12-system-python3.json'), owner);
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.packages).toHaveLength(68);
    expect(r.packages).toContainEqual({ ecosystem: 'PyPI', name: 'requests', version: '2.28.1', ...owner });
    expect(r.packages).toContainEqual(expect.objectContaining({ name: 'urllib3', version: '1.26.12' }));
    expect(parsePipList('pip: command not found', owner).error).toMatch(/^pip list: invalid JSON/);
    expect(parsePipList('{"name": "x"}', owner).error).toBe(
      'pip list: expected a JSON list of {name, version}',
    );
  });

  it('reads Name and Version of dist-info METADATA and egg-info PKG-INFO', () => {
    const owner = { owner: '/usr/lib/python3/dist-packages', ownerKind: 'site-packages' as const };
    expect(nv(parsePythonMetadata(read('cryptography-38.0.4.dist-info-METADATA'), owner).packages)).toEqual([
      'cryptography@38.0.4',
    ]);
    expect(nv(parsePythonMetadata(read('requests-2.28.1.egg-info-PKG-INFO'), owner).packages)).toEqual([
      'requests@2.28.1',
    ]);
    expect(parsePythonMetadata('Metadata-Version: 2.1\nName: x\n\nVersion: 1.0\n', owner).error).toBe(
      'metadata has no Version header',
    );
  });

  it('requirements.txt: pins become packages; ranges, extras without pins, URLs and markers are kept apart', () => {
    const vmware = parseRequirementsTxt(read('requirements.community-vmware.txt'), lock('requirements.txt'));
    expect(vmware.packages).toEqual([]);
    expect(vmware.unpinned.map((u) => [u.name, u.line])).toEqual([
      ['pyVmomi', 1],
      ['git+https://github.com/vmware/vsphere-automation-sdk-python.git', 2],
    ]);
    const foreman = parseRequirementsTxt(
      read('requirements.theforeman-foreman.txt'),
      lock('requirements.txt'),
    );
    expect(foreman.packages).toEqual([]);
    expect(foreman.unpinned.map((u) => u.requirement)).toEqual(['requests>=2.4.2', 'ipaddress', 'PyYAML']);
    const mongo = parseRequirementsTxt(
      read('requirements.community-mongodb-3.6.txt'),
      lock('requirements.txt'),
    );
    expect(nv(mongo.packages)).toEqual([
      'ansible@2.9.20',
      'ansible-lint@4.2.0',
      'docker@4.1.0',
      'flake8@3.7.9',
      'pytest@5.3.4',
      'python-vagrant@0.5.15',
      'sh@1.13.1',
    ]);
    expect(mongo.unpinned.map((u) => u.requirement)).toEqual(['molecule>=2.22,<3.0', 'pymongo']);
    const azure = parseRequirementsTxt(read('requirements.azure-azcollection.txt'), lock('requirements.txt'));
    expect(azure.unpinned.map((u) => u.name).slice(0, 3)).toEqual(['packaging', 'requests', 'xmltodict']);
    expect(azure.packages).toContainEqual(
      expect.objectContaining({
        name: 'azure-cli-core',
        version: '2.34.0',
        owner: '/srv/app/requirements.txt',
      }),
    );
    expect(azure.warnings).toEqual([]);
  });

  it('requirements.txt: hashes, markers, extras, comments, includes and options', () => {
    const hash = createHash('sha256').update(read('requirements.azure-azcollection.txt')).digest('hex');
    const text = [
      '# pinned with hashes by pip-compile',
      '-r base.txt',
      '--constraint=constraints.txt',
      '--index-url https://pypi.example.org/simple',
      '--require-hashes',
      `requests[security]==2.30.0 ; python_version >= "3.7" \\`,
      `    --hash=sha256:${hash} \\`,
      `    --hash=sha256:${hash}`,
      'urllib3==2.0.2  # via requests',
      'idna===3.4',
      'six==1.*',
      'Django>=3.2,<4',
      'pkg @ https://example.org/pkg-1.0.tar.gz',
      '-e ./local-project',
      '--frobnicate',
      'name==${VERSION}',
      'evil;rm -rf /==1.0',
      '',
    ].join('\n');
    const r = parseRequirementsTxt(text, lock('requirements.txt'));
    expect(r.packages).toEqual([
      {
        ecosystem: 'PyPI',
        name: 'requests',
        version: '2.30.0',
        owner: '/srv/app/requirements.txt',
        ownerKind: 'lockfile',
        marker: 'python_version >= "3.7"',
      },
      expect.objectContaining({ name: 'urllib3', version: '2.0.2' }),
      expect.objectContaining({ name: 'idna', version: '3.4' }),
    ]);
    expect(r.includes).toEqual([
      { path: 'base.txt', kind: 'requirements', line: 2 },
      { path: 'constraints.txt', kind: 'constraints', line: 3 },
    ]);
    expect(r.unpinned.map((u) => [u.name, u.line])).toEqual([
      ['six', 11],
      ['Django', 12],
      ['pkg', 13],
      ['./local-project', 14],
      ['name', 16],
      ['evil', 17],
    ]);
    expect(r.warnings.map((w) => `${w.line}: ${w.reason}`)).toEqual([
      '15: unknown option "--frobnicate"; line ignored',
    ]);
  });

  it('reads poetry.lock (Debian ansible netbox collection) with every package from the index', () => {
    const r = parsePoetryLock(read('poetry.lock.netbox-ansible'), lock('poetry.lock'));
    expect(r.error).toBeUndefined();
    expect(r.warnings).toEqual([]);
    expect(r.packages).toHaveLength(78);
    expect(nv(r.packages)).toEqual(
      expect.arrayContaining(['requests@2.30.0', 'urllib3@2.0.2', 'jinja2@3.1.2']),
    );
    const git = parsePoetryLock(
      '[[package]]\nname = "x"\nversion = "1.0"\n[package.source]\ntype = "git"\nurl = "https://example.org/x.git"\n',
      lock('poetry.lock'),
    );
    expect(git.packages).toEqual([]);
    expect(git.warnings[0]?.reason).toBe(
      'package x 1.0: from a git source, not a package index; not matched',
    );
    expect(parsePoetryLock('[[package]\n', lock('poetry.lock')).error).toMatch(/^poetry\.lock: invalid TOML/);
  });
});

describe('npm', () => {
  it('reads the same packages from package-lock v1, v2 and v3 of one project (written by npm 11)', () => {
    const sets = [1, 2, 3].map((v) => {
      const r = parsePackageLock(read(`package-lock.v${v}.json`), lock('package-lock.json'));
      expect({ v, error: r.error, warnings: r.warnings }).toEqual({ v, error: undefined, warnings: [] });
      return r.packages.map((p) => `${p.name}@${p.version}${p.dev === true ? ' (dev)' : ''}`).sort();
    });
    expect(sets[0]).toEqual(sets[1]);
    expect(sets[1]).toEqual(sets[2]);
    expect(sets[0]).toEqual(
      expect.arrayContaining(['semver@7.5.1', 'express@4.17.1', 'minimist@1.2.5 (dev)']),
    );
    expect(sets[0]?.length).toBeGreaterThan(40);
  });

  it('skips non-registry entries and workspace links, resolves aliases, refuses other lockfile versions', () => {
    const text = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'app' },
        'node_modules/a': { version: '1.0.0' },
        'node_modules/b': { version: 'file:../b' },
        'node_modules/c': { resolved: 'packages/c', link: true },
        'packages/c': { version: '0.0.1' },
        'node_modules/old-name': { name: 'real-name', version: '2.0.0' },
        'node_modules/a/node_modules/@scope/d': { version: '3.0.0', dev: true },
        'node_modules/e': { version: '1.0.0 ; reboot' },
      },
    });
    const r = parsePackageLock(text, lock('package-lock.json'));
    expect(nv(r.packages)).toEqual(['a@1.0.0', 'real-name@2.0.0', '@scope/d@3.0.0']);
    expect(r.packages[2]?.dev).toBe(true);
    expect(r.warnings.map((w) => w.reason)).toEqual([
      'node_modules/b: "file:../b" is not from the npm registry; not matched',
      'npm package e: invalid version "1.0.0 ; reboot"',
    ]);
    expect(parsePackageLock('{"lockfileVersion": 4}', lock('package-lock.json')).error).toBe(
      'package-lock.json: unsupported lockfileVersion 4 (1, 2 or 3 expected)',
    );
  });

  it('reads npm ls -g --all of this VM: npm, corepack and their bundled packages once each', () => {
    const owner = { owner: '/usr/lib/node_modules', ownerKind: 'global-npm' as const };
    const r = parseNpmLs(read('npm-ls-g.json'), owner);
    expect(r.warnings).toEqual([]);
    expect(nv(r.packages)).toEqual(
      expect.arrayContaining(['npm@11.19.1', 'corepack@0.34.6', 'semver@7.8.5']),
    );
    expect(r.packages.filter((p) => p.name === 'semver')).toHaveLength(1);
    const missing = parseNpmLs('{"dependencies": {"x": {"required": "^1.0.0", "missing": true}}}', owner);
    expect(missing.warnings[0]?.reason).toBe('x: missing (not installed); not counted');
    const link = parseNpmLs('{"dependencies": {"mine": {"version": "file:/home/me/mine"}}}', owner);
    expect(link.warnings[0]?.reason).toBe(
      'mine: "file:/home/me/mine" is not from the npm registry; not matched',
    );
  });
});

describe('Go, Rust, Ruby lockfiles', () => {
  it('go.sum (spf13/cobra): modules that are built, with their version', () => {
    const r = parseGoSum(read('go.sum.cobra'), lock('go.sum'));
    expect(r.warnings).toEqual([]);
    expect(nv(r.packages)).toEqual([
      'github.com/cpuguy83/go-md2man/v2@v2.0.3',
      'github.com/inconshreveable/mousetrap@v1.1.0',
      'github.com/russross/blackfriday/v2@v2.1.0',
      'github.com/spf13/pflag@v1.0.5',
      'gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405',
      'gopkg.in/yaml.v3@v3.0.1',
    ]);
    const history = parseGoSum(
      [
        'golang.org/x/net v0.7.0 h1:aaaa=',
        'golang.org/x/net v0.17.0 h1:bbbb=',
        'golang.org/x/net v0.10.0 h1:cccc=',
        'golang.org/x/text v0.3.0/go.mod h1:dddd=',
        'garbage line',
      ].join('\n'),
      lock('go.sum'),
    );
    expect(nv(history.packages)).toEqual(['golang.org/x/net@v0.17.0']);
    expect(history.warnings.map((w) => w.reason)).toEqual([
      'not a go.sum line (module version hash): "garbage line"',
      '2 older versions of 1 modules in go.sum not counted (Go builds the highest one)',
    ]);
  });

  it('Cargo.lock (ripgrep): crates.io packages, not the workspace crates', () => {
    const r = parseCargoLock(read('Cargo.lock.ripgrep'), lock('Cargo.lock'));
    expect(r.warnings).toEqual([]);
    const names = nv(r.packages);
    expect(names).toEqual(
      expect.arrayContaining([
        'syn@2.0.119',
        'syn@3.0.3',
        'tikv-jemalloc-sys@0.7.1+5.3.1-0-g81034ce1f1373e37dc865038e1bc8eeecf559ce8',
      ]),
    );
    expect(names.some((n) => n.startsWith('ripgrep@') || n.startsWith('grep@'))).toBe(false);
    expect(r.packages).toHaveLength(52);
    const git = parseCargoLock(
      '[[package]]\nname = "x"\nversion = "0.1.0"\nsource = "git+https://github.com/o/x?rev=1#abc"\n',
      lock('Cargo.lock'),
    );
    expect(git.warnings[0]?.reason).toBe(
      'crate x 0.1.0: from git+https://github.com/o/x?rev=1, not crates.io; not matched',
    );
  });

  it('Gemfile.lock: gems from the gem server, platforms stripped, PATH gems named', () => {
    const r = parseGemfileLock(read('Gemfile.lock'), lock('Gemfile.lock'));
    expect(r.packages).toHaveLength(70);
    expect(nv(r.packages)).toEqual(
      expect.arrayContaining(['nokogiri@1.11.7', 'activesupport@6.1.4', 'rake@13.0.6']),
    );
    expect(r.warnings.map((w) => `${w.line}: ${w.reason}`)).toEqual([
      '4: gem strava-ruby-client 0.4.2: from a PATH source, not a gem server; not matched',
    ]);
    const platform = parseGemfileLock(
      'GEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.16.2-x86_64-linux)\n      racc (~> 1.4)\n',
      lock('Gemfile.lock'),
    );
    expect(nv(platform.packages)).toEqual(['nokogiri@1.16.2']);
    expect(parseGemfileLock('hello\n', lock('Gemfile.lock')).error).toBe('Gemfile.lock: no GEM section');
  });
});
