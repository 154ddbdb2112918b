import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../../src/core/errors.js';
import type { VersionScheme } from '../../../src/core/model.js';
import { getScheme, schemeForEcosystem, VERSION_SCHEMES } from '../../../src/core/versions/index.js';
import { parseDeb } from '../../../src/core/versions/deb.js';
import { parseRpm } from '../../../src/core/versions/rpm.js';

describe('schemeForEcosystem', () => {
  it.each([
    ['Debian:12', 'deb'],
    ['Debian:sid', 'deb'],
    ['Ubuntu:22.04:LTS', 'deb'],
    ['Ubuntu:Pro:18.04:LTS', 'deb'],
    ['Alpine:v3.19', 'apk'],
    ['Rocky Linux:9', 'rpm'],
    ['AlmaLinux:9', 'rpm'],
    ['Red Hat:enterprise_linux:9::baseos', 'rpm'],
    ['openSUSE:Leap 15.5', 'rpm'],
    ['SUSE:Linux Enterprise Server 15 SP5', 'rpm'],
    ['npm', 'semver'],
    ['PyPI', 'pep440'],
    ['Go', 'go'],
    ['crates.io', 'semver'],
    ['RubyGems', 'rubygems'],
    ['fwupd', 'fwupd'],
    ['fwupd:dell-bios', 'fwupd'],
    ['Maven', undefined],
    ['rubygems', undefined],
    ['debian:12', undefined],
    ['', undefined],
  ])('%s -> %s', (ecosystem, scheme) => {
    expect(schemeForEcosystem(ecosystem)).toBe(scheme);
  });
});

describe('getScheme', () => {
  it('has every scheme under its own name', () => {
    for (const name of VERSION_SCHEMES) expect(getScheme(name).name).toBe(name);
  });
  it('rejects an unknown scheme', () => {
    expect(() => getScheme('dpkg' as VersionScheme)).toThrow(/unknown version scheme "dpkg"/);
  });
});

describe('invalid versions carry a reason', () => {
  it.each([
    ['deb', '', /version string is empty/],
    ['deb', '1.0 1', /embedded spaces/],
    ['deb', 'a:1.0', /epoch in version is empty/],
    ['deb', '1a:1.0', /epoch in version is not number/],
    ['deb', '-1:1.0', /epoch in version is negative/],
    ['deb', '2147483648:1.0', /epoch in version is too big/],
    ['deb', '1:', /nothing after colon/],
    ['deb', '1.0-', /revision number is empty/],
    ['deb', '-1', /upstream version is empty/],
    ['rpm', '', /empty/],
    ['rpm', '1.0 2', /white space/],
    ['rpm', '1:', /version part is empty/],
    ['rpm', '1.0-', /release after "-" is empty/],
    ['apk', '1.0-1', /"-" must start a revision/],
    ['apk', '1.0_foo', /unknown suffix "_foo"/],
    ['apk', 'a', /expected a number/],
    ['semver', '1.0', /MAJOR.MINOR.PATCH/],
    ['pep440', '1.0-foo-bar', /not a PEP 440 version/],
  ] as const)('%s %j', (scheme, version, reason) => {
    const impl = getScheme(scheme);
    expect(impl.isValid(version)).toBe(false);
    let caught: unknown;
    try {
      impl.parse(version);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidVersionError);
    expect((caught as InvalidVersionError).userMessage).toMatch(reason);
    expect((caught as InvalidVersionError).userMessage).toContain(`invalid ${scheme} version`);
    expect(() => impl.compare(version, version)).toThrow(InvalidVersionError);
  });
});

describe('parsed forms', () => {
  it('deb: epoch, upstream, revision, and the warnings dpkg gives', () => {
    expect(parseDeb('1:2.36-9+deb12u3+b1')).toEqual({ epoch: 1, upstream: '2.36', revision: '9+deb12u3+b1' });
    expect(parseDeb(' 1.2.3-4-5 ')).toEqual({ epoch: 0, upstream: '1.2.3-4', revision: '5' });
    expect(parseDeb('a1.0').warning).toBe('version number does not start with digit');
    expect(parseDeb('1.0_1').warning).toBe('invalid character in version number');
  });
  it('rpm: epoch:version-release as rpm splits it', () => {
    expect(parseRpm('2:8.7p1-38.el9_4.1')).toEqual({ epoch: '2', version: '8.7p1', release: '38.el9_4.1' });
    expect(parseRpm('1.0')).toEqual({ epoch: undefined, version: '1.0', release: undefined });
  });
});

describe('semver and pep440 orderings', () => {
  it.each([
    ['semver', '1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['semver', '1.0.0-rc.1', '1.0.0', -1],
    ['semver', '1.0.0+build.1', '1.0.0+build.2', 0],
    ['semver', '10.0.0', '9.9.9', 1],
    ['pep440', '1.0.dev1', '1.0a1', -1],
    ['pep440', '1.0', '1.0.0', 0],
    ['pep440', '1.0.post1', '1.0', 1],
    ['pep440', '1!0.1', '2.0', 1],
    ['pep440', '1.0rc1', '1.0', -1],
  ] as const)('%s %s vs %s = %i', (scheme, a, b, expected) => {
    expect(getScheme(scheme).compare(a, b)).toBe(expected);
    expect(getScheme(scheme).compare(b, a)).toBe(-expected || 0);
  });
});
