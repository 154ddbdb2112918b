import { describe, expect, it } from 'vitest';
import { InvalidVersionError } from '../../../src/core/errors.js';
import type { AffectedRange, VersionScheme } from '../../../src/core/model.js';
import { fixedVersionFor, isAffected } from '../../../src/core/versions/index.js';

const eco = (...events: AffectedRange['events']): AffectedRange => ({ type: 'ECOSYSTEM', events });
const sem = (...events: AffectedRange['events']): AffectedRange => ({ type: 'SEMVER', events });

interface Case {
  name: string;
  scheme: VersionScheme;
  ranges: AffectedRange[];
  versions?: string[];
  affected: Record<string, boolean>;
  fixed?: Record<string, string | null>;
}

const CASES: Case[] = [
  {
    name: 'Debian: introduced 0, fixed (DSA-5514-1 glibc)',
    scheme: 'deb',
    ranges: [eco({ introduced: '0' }, { fixed: '2.36-9+deb12u3' })],
    affected: {
      '2.36-9': true,
      '2.36-9+deb12u2': true,
      '2.36-9+deb12u3~1': true,
      '2.36-9+deb12u3': false,
      '2.36-9+deb12u3+b1': false,
      '2.36-9+deb12u14': false,
      '1:2.0-1': false,
    },
    fixed: { '2.36-9+deb12u2': '2.36-9+deb12u3', '2.36-9+deb12u3': null },
  },
  {
    name: 'introduced after 0 and fixed: versions before the introduction are not affected',
    scheme: 'deb',
    ranges: [eco({ introduced: '1.2-1' }, { fixed: '1.4-1' })],
    affected: { '1.1-9': false, '1.2-1': true, '1.3': true, '1.4-1~rc1': true, '1.4-1': false },
  },
  {
    name: 'last_affected includes its own version',
    scheme: 'apk',
    ranges: [eco({ introduced: '0' }, { last_affected: '9.6_p1-r0' })],
    affected: { '9.6_p1-r0': true, '9.6_p1-r1': false, '9.6-r5': true, '9.6_rc1': true, '9.7-r0': false },
    fixed: { '9.6_p1-r0': null },
  },
  {
    name: 'several introduced/fixed pairs in one range (events given out of order)',
    scheme: 'semver',
    ranges: [eco({ fixed: '2.3.0' }, { introduced: '2.0.0' }, { introduced: '1.0.0' }, { fixed: '1.2.0' })],
    affected: {
      '0.9.0': false,
      '1.0.0': true,
      '1.1.9': true,
      '1.2.0': false,
      '1.9.0': false,
      '2.0.0-rc.1': false,
      '2.2.0': true,
      '2.3.0': false,
    },
    fixed: { '1.1.0': '1.2.0', '2.1.0': '2.3.0', '1.5.0': null },
  },
  {
    name: 'multiple ranges: any of them affects (GHSA-c2qf-rxjj-qqgw shape)',
    scheme: 'semver',
    ranges: [
      eco({ introduced: '7.0.0' }, { fixed: '7.5.2' }),
      eco({ introduced: '6.0.0' }, { fixed: '6.3.1' }),
      eco({ introduced: '0' }, { fixed: '5.7.2' }),
    ],
    affected: { '5.7.1': true, '5.7.2': false, '6.3.0': true, '6.3.1': false, '7.5.1': true, '7.5.2': false },
    fixed: { '5.0.0': '5.7.2', '6.1.0': '6.3.1', '7.5.1': '7.5.2', '7.6.0': null },
  },
  {
    name: 'limit: versions at or above every limit are not affected',
    scheme: 'pep440',
    ranges: [eco({ introduced: '0' }, { limit: '2.0' })],
    affected: { '1.0': true, '1.9.post1': true, '2.0rc1': true, '2.0': false, '3.0': false },
  },
  {
    name: 'limit "*" does not limit',
    scheme: 'pep440',
    ranges: [eco({ introduced: '1.0' }, { limit: '*' })],
    affected: { '0.9': false, '1.0': true, '99': true },
  },
  {
    name: 'explicit versions list (also equal under the ordering)',
    scheme: 'pep440',
    ranges: [],
    versions: ['1.0', '1.1'],
    affected: { '1.0': true, '1.0.0': true, '1.1': true, '1.2': false },
    fixed: { '1.0': null },
  },
  {
    name: 'SEMVER range in a PyPI package uses semver order',
    scheme: 'pep440',
    ranges: [sem({ introduced: '1.0.0' }, { fixed: '1.10.0' })],
    affected: { '1.9.0': true, '1.10.0': false },
  },
  {
    name: 'rpm: epoch and ~ in a fix',
    scheme: 'rpm',
    ranges: [eco({ introduced: '0' }, { fixed: '2:8.7p1-38.el9_4.1' })],
    affected: {
      '8.7p1-38.el9': true,
      '2:8.7p1-38.el9': true,
      '2:8.7p1-38.el9_4.1': false,
      '2:8.7p1-38.el9_4.1~1': true,
    },
  },
  {
    name: 'GIT ranges are ignored',
    scheme: 'deb',
    ranges: [{ type: 'GIT', events: [{ introduced: '0' }, { fixed: 'abcdef0' }] }],
    affected: { '1.0': false },
  },
  {
    name: 'introduced and fixed at the same version affect nothing',
    scheme: 'deb',
    ranges: [eco({ fixed: '1.0' }, { introduced: '1.0' })],
    affected: { '0.9': false, '1.0': false, '1.1': false },
  },
];

describe('isAffected and fixedVersionFor', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it.each(Object.entries(c.affected))('%s affected: %s', (version, expected) => {
        expect(isAffected(c.scheme, version, c.ranges, c.versions ?? [])).toBe(expected);
      });
      if (c.fixed !== undefined) {
        it.each(Object.entries(c.fixed))('%s fixed by %s', (version, expected) => {
          expect(fixedVersionFor(c.scheme, version, c.ranges)).toBe(expected);
        });
      }
    });
  }

  it('throws InvalidVersionError for an invalid installed or event version', () => {
    expect(() => isAffected('deb', 'x:1', [eco({ introduced: '0' }, { fixed: '1.0' })], [])).toThrow(
      InvalidVersionError,
    );
    expect(() => isAffected('deb', '1.0', [eco({ introduced: '0' }, { fixed: '1.0-' })], [])).toThrow(
      /revision number is empty/,
    );
    expect(() => isAffected('semver', '1.0.0', [sem({ introduced: '0' }, { fixed: '1.0' })], [])).toThrow(
      /invalid semver version "1.0"/,
    );
  });
});
