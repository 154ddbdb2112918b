import { describe, expect, it } from 'vitest';

import { ValidationError } from '../../../src/core/errors.js';
import { cvssSeverity, parseCvss } from '../../../src/core/risk/cvss.js';
import { fixtureText, nvdCvss } from './fixtures.js';

const examples = fixtureText('cvss-examples.tsv')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => {
    const [vector, expected, kind, source] = l.split('\t');
    return { vector: vector, expected: Number(expected), kind: kind as 'base' | 'overall', source: source };
  });

describe('parseCvss: published scores', () => {
  it('has the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(30);
  });

  it.each(examples)('$vector = $expected ($kind; $source)', ({ vector, expected, kind }) => {
    const parsed = parseCvss(vector);
    expect(kind === 'base' ? parsed.baseScore : parsed.score).toBe(expected);
  });

  it("agrees with NVD's stated baseScore and severity for CVE-2023-4911", () => {
    const { scores } = nvdCvss('CVE-2023-4911.nvd.json');
    expect(scores.length).toBeGreaterThan(0);
    for (const s of scores) {
      const parsed = parseCvss(s.vector);
      expect(parsed.version).toBe(s.version);
      expect(parsed.baseScore).toBe(s.baseScore);
      expect(parsed.severity).toBe(s.severity);
    }
  });

  it("agrees with the GHSA record's CVSS_V3 vector", () => {
    const osv = JSON.parse(fixtureText('GHSA-c2qf-rxjj-qqgw.json')) as {
      severity: { type: string; score: string }[];
    };
    const v3 = osv.severity.find((s) => s.type === 'CVSS_V3');
    expect(v3).toBeDefined();
    const parsed = parseCvss(v3!.score);
    expect(parsed).toMatchObject({ version: '3.1', baseScore: 5.3, severity: 'MEDIUM' });
  });
});

describe('parseCvss: metrics and versions', () => {
  it.each([
    ['CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', '3.1', { AV: 'L', PR: 'L', C: 'H' }],
    ['CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:C/C:L/I:N/A:N', '3.0', { AC: 'H', S: 'C' }],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AU:Y', '4.0', { AT: 'N', AU: 'Y' }],
    ['AV:N/AC:L/Au:N/C:P/I:P/A:P', '2.0', { Au: 'N' }],
    ['(AV:N/AC:L/Au:N/C:P/I:P/A:P)', '2.0', { AV: 'N' }],
    ['  CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H  ', '3.1', { UI: 'N' }],
  ])('%s is CVSS %s', (vector, version, metrics) => {
    const parsed = parseCvss(vector);
    expect(parsed.version).toBe(version);
    expect(parsed.metrics).toMatchObject(metrics);
  });

  it('keeps the base score apart from a temporal/threat-adjusted score', () => {
    const v3 = parseCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C');
    expect(v3.baseScore).toBe(9.8);
    expect(v3.score).toBeLessThan(9.8);
    expect(v3.severity).toBe('CRITICAL');
  });
});

describe('parseCvss: invalid vectors are rejected with the vector named', () => {
  it.each([
    ['', 'empty'],
    ['garbage', 'malformed metric'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', 'missing base metric(s) A'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/FOO:1', 'FOO'],
    ['CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'Q'],
    ['CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'AV given more than once'],
    ['CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'value X'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/', 'malformed metric ""'],
    ['CVSS:3.1//AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'malformed metric ""'],
    ['CVSS:9.9/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'unsupported CVSS version 9.9'],
    ['CVSS:3.1', 'malformed version prefix'],
    ['CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 'missing base metric(s) AT'],
    ['CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/S:U/C:H/I:H/A:H', 'AT'],
    ['AV:N/AC:L/Au:N/C:P/I:P', 'missing base metric(s) A for CVSS 2.0'],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H;rm -rf /', 'malformed metric'],
    [`CVSS:3.1/${'AV:N/'.repeat(200)}`, 'longer than 512'],
  ])('%j: %s', (vector, reason) => {
    let error: unknown;
    try {
      parseCvss(vector);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.code).toBe('VALIDATION');
    expect(e.userMessage).toContain('invalid CVSS vector');
    expect(e.userMessage).toContain(JSON.stringify(vector.trim().slice(0, 40)).slice(0, -1));
    expect(e.userMessage).toContain(reason);
  });
});

describe('cvssSeverity', () => {
  it.each([
    ['3.1', 0, 'NONE'],
    ['3.1', 0.1, 'LOW'],
    ['3.1', 3.9, 'LOW'],
    ['3.1', 4.0, 'MEDIUM'],
    ['4.0', 6.9, 'MEDIUM'],
    ['4.0', 7.0, 'HIGH'],
    ['3.0', 8.9, 'HIGH'],
    ['3.1', 9.0, 'CRITICAL'],
    ['2.0', 3.9, 'LOW'],
    ['2.0', 4.0, 'MEDIUM'],
    ['2.0', 10.0, 'HIGH'],
  ] as const)('v%s %d -> %s', (version, score, severity) => {
    expect(cvssSeverity(version, score)).toBe(severity);
  });
});
