/**
 * Red Hat and its rebuilds put their own severity in front of an advisory's summary ("Important:
 * openssl security update"); it becomes the urgency of the record's Red Hat, Rocky Linux and
 * AlmaLinux entries, the stand-in for CVSS when a CVE has none (docs/risk.md).
 */
import { describe, expect, it } from 'vitest';
import { parseOsvRecord } from '../../../src/feeds/osv/parse.js';

function record(summary: string, ecosystems: string[]) {
  return {
    id: 'RHSA-2024:1234',
    modified: '2024-05-01T00:00:00Z',
    upstream: ['CVE-2024-0001'],
    summary,
    affected: ecosystems.map((ecosystem) => ({
      package: { ecosystem, name: 'openssl' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:3.0.7-27.el9' }] }],
    })),
  };
}

describe('vendor severity in OSV summaries', () => {
  it.each([
    ['Important: openssl security update', 'Red Hat:enterprise_linux:9::baseos', 'important'],
    ['Critical: openssl security update', 'Rocky Linux:9', 'critical'],
    ['Moderate: openssl security update', 'AlmaLinux:8', 'moderate'],
    ['Low: openssl security update', 'Red Hat:enterprise_linux:8::appstream', 'low'],
  ])('%s (%s) -> urgency %s', (summary, ecosystem, urgency) => {
    const { advisory } = parseOsvRecord(record(summary, [ecosystem]), 'test');
    expect(advisory?.affected[0]?.urgency).toBe(urgency);
  });

  it.each([
    ['openssl: Important fix', 'Red Hat:enterprise_linux:9::baseos'],
    ['Important: openssl security update', 'Debian:12'],
    ['Urgent: openssl security update', 'Rocky Linux:9'],
  ])('no urgency from %j in %s', (summary, ecosystem) => {
    const { advisory } = parseOsvRecord(record(summary, [ecosystem]), 'test');
    expect(advisory?.affected[0]?.urgency).toBeUndefined();
  });
});
