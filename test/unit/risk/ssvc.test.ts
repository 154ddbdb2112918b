import { describe, expect, it } from 'vitest';

import type { SsvcDecision, SsvcInputs } from '../../../src/core/model.js';
import { parseCvss } from '../../../src/core/risk/cvss.js';
import {
  automatableFromCvss,
  bod2604Timeline,
  exploitationOf,
  isPocReference,
  missionWellbeingOf,
  ssvcDecision,
  technicalImpactFromCvss,
} from '../../../src/core/risk/ssvc.js';
import { csvRows } from './fixtures.js';

const CISA_LEVEL: Record<string, SsvcDecision> = {
  track: 'Track',
  'track*': 'Track*',
  attend: 'Attend',
  act: 'Act',
};

describe('CISA coordinator table (CERTCC/SSVC cisa_coordinator_2_0_3.csv): every row', () => {
  const [header, ...rows] = csvRows('cisa_coordinator_2_0_3.csv');

  it('has the expected columns and all 3 x 2 x 2 x 3 combinations', () => {
    expect(header).toEqual([
      'row',
      'Exploitation v1.1.0',
      'Automatable v2.0.0',
      'Technical Impact v1.0.0',
      'Mission and Well-Being Impact v1.0.0',
      'CISA Levels v1.1.0 (cisa)',
    ]);
    expect(rows).toHaveLength(36);
    expect(new Set(rows.map((r) => r.slice(1, 5).join('|'))).size).toBe(36);
  });

  it.each(rows)('row %s: %s, automatable %s, %s impact, %s mission -> %s', (_row, e, a, t, m, level) => {
    const inputs = { exploitation: e, automatable: a, technicalImpact: t, missionWellbeing: m } as SsvcInputs;
    expect(ssvcDecision(inputs)).toBe(CISA_LEVEL[level]);
  });
});

it('rejects decision points outside the table', () => {
  const bad = {
    exploitation: 'likely',
    automatable: 'no',
    technicalImpact: 'total',
    missionWellbeing: 'high',
  };
  expect(() => ssvcDecision(bad as unknown as SsvcInputs)).toThrow(RangeError);
});

describe('CISA BOD 26-04 table (CERTCC/SSVC cisa_bod_26_04_1_0_0.csv): every row', () => {
  const [, ...rows] = csvRows('cisa_bod_26_04_1_0_0.csv');

  it('has all 16 combinations', () => {
    expect(rows).toHaveLength(16);
  });

  it.each(rows)(
    'row %s: KEV %s, exposed %s, automatable %s, %s -> %s',
    (_row, kev, exposed, a, t, timeline) => {
      expect(
        bod2604Timeline({
          inKev: kev === 'yes',
          publiclyExposed: exposed === 'yes',
          automatable: a as 'yes' | 'no',
          technicalImpact: t as 'partial' | 'total',
        }),
      ).toBe(timeline);
    },
  );
});

describe('Exploitation', () => {
  const threshold = 0.1;
  it.each([
    [{ kev: true, epss: 0.001, pocReference: false }, 'active'],
    [{ kev: true, epss: null, pocReference: true }, 'active'],
    [{ kev: false, epss: 0.1, pocReference: false }, 'public poc'],
    [{ kev: false, epss: 0.0999, pocReference: false }, 'none'],
    [{ kev: false, epss: null, pocReference: true }, 'public poc'],
    [{ kev: false, pocReference: false }, 'none'],
  ] as const)('%j -> %s', (ev, expected) => {
    expect(exploitationOf(ev, threshold)).toBe(expected);
  });

  it.each([
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P', 'public poc'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:H', 'public poc'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U', 'none'],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A', 'public poc'],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U', 'none'],
    ['AV:N/AC:L/Au:N/C:P/I:P/A:P/E:POC', 'public poc'],
    ['AV:N/AC:L/Au:N/C:P/I:P/A:P/E:U', 'none'],
  ])("the vector's exploit maturity %s -> %s", (vector, expected) => {
    expect(
      exploitationOf({ kev: false, epss: 0, pocReference: false, cvss: parseCvss(vector) }, threshold),
    ).toBe(expected);
  });
});

describe('Automatable and Technical Impact from the CVSS vector', () => {
  it.each([
    // CVE-2023-4911 (NVD): local -> not automatable; C:H/I:H -> total
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 'no', 'total'],
    // CVE-2022-25883 (GHSA): network, no privileges, no user -> automatable; availability only -> partial
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L', 'yes', 'partial'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'yes', 'total'],
    ['CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H', 'no', 'total'],
    ['CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 'no', 'total'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N', 'no', 'partial'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N', 'yes', 'partial'],
    ['CVSS:3.0/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'no', 'total'],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'yes', 'total'],
    ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'no', 'total'],
    ['CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:L/VA:L/SC:N/SI:N/SA:N/AU:Y', 'yes', 'partial'],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:N', 'no', 'total'],
    ['AV:N/AC:L/Au:N/C:C/I:C/A:C', 'yes', 'total'],
    ['AV:N/AC:L/Au:S/C:P/I:P/A:P', 'no', 'partial'],
  ])('%s -> automatable %s, %s', (vector, automatable, impact) => {
    const p = parseCvss(vector);
    expect(automatableFromCvss(p)).toBe(automatable);
    expect(technicalImpactFromCvss(p)).toBe(impact);
  });

  it('without a vector: not automatable, partial', () => {
    expect(automatableFromCvss(undefined)).toBe('no');
    expect(technicalImpactFromCvss(null)).toBe('partial');
  });
});

describe('Mission and Well-being from tier and exposure', () => {
  it.each([
    [1, false, 'high'],
    [1, true, 'high'],
    [2, false, 'medium'],
    [2, true, 'high'],
    [3, false, 'low'],
    [3, true, 'medium'],
    [4, false, 'low'],
    [4, true, 'low'],
  ] as const)('tier %d, internet-facing %s -> %s', (criticality, internetFacing, expected) => {
    expect(missionWellbeingOf({ criticality, internetFacing })).toBe(expected);
  });
});

describe('PoC references', () => {
  it.each([
    [{ type: 'EVIDENCE', url: 'https://example.org/writeup' }, true],
    [{ type: 'WEB', url: 'https://www.exploit-db.com/exploits/51608' }, true],
    [
      {
        type: 'WEB',
        url: 'https://packetstormsecurity.com/files/174986/glibc-ld.so-Local-Privilege-Escalation.html',
      },
      true,
    ],
    [
      {
        type: 'WEB',
        url: 'https://github.com/rapid7/metasploit-framework/blob/master/modules/exploits/linux/local/glibc_tunables_priv_esc.rb',
      },
      true,
    ],
    [
      { type: 'WEB', url: 'https://www.rapid7.com/db/modules/exploit/linux/local/glibc_tunables_priv_esc/' },
      true,
    ],
    [{ type: 'WEB', url: 'https://www.rapid7.com/blog/post/2023/10/04/cve-2023-4911/' }, false],
    [{ type: 'REFERENCE', url: 'https://example.org/x', tags: ['Exploit', 'Third Party Advisory'] }, true],
    [{ type: 'ADVISORY', url: 'https://www.debian.org/security/2023/dsa-5514' }, false],
    [{ type: 'FIX', url: 'https://github.com/npm/node-semver/pull/564' }, false],
    [{ type: 'WEB', url: 'not a url' }, false],
  ])('%j -> %s', (ref, expected) => {
    expect(isPocReference(ref)).toBe(expected);
  });
});
