import { describe, expect, it } from 'vitest';
import { Policy } from '../../../src/config/policy-schema.js';
import type { ChangeDetail, ChangeFindingRecord } from '../../../src/db/repositories/change-repository.js';
import { environmentsOf, resolveApprovers, ruleFor } from '../../../src/usecases/approvals/rules.js';

const policy = Policy.parse({
  environments: ['production', 'staging'],
  teams: [
    {
      name: 'payments',
      approvers: {
        production: { slackUsers: ['U0PRODAPP01'], entraUsers: ['2fe8df62-360d-4da0-886e-9365c9e9a495'] },
        '*': { slackUserGroups: ['S0PAYMENTS1'] },
      },
    },
    { name: 'security', approvers: { '*': { slackUsers: ['U0SECOPS001'] } } },
  ],
  approval: {
    default: { quorum: 1, expiry: '72h' },
    rules: [
      { name: 'prod', match: { environments: ['production'] }, quorum: 2, expiry: '24h' },
      {
        name: 'kev-prod',
        match: { environments: ['production'], kev: true },
        quorum: 2,
        approvers: ['owner', 'security'],
        expiry: '4h',
      },
    ],
  },
});

function finding(environment: string, kev = false): ChangeFindingRecord {
  return {
    id: environment,
    hostId: environment,
    hostName: `h-${environment}`,
    environment,
    labels: {},
    hostGroups: [],
    hostTeam: 'payments',
    kind: 'os',
    owner: '',
    ownerKind: null,
    packageName: 'openssl',
    sourcePackage: 'openssl',
    installedVersion: '1',
    fixedVersion: '2',
    advisoryId: 'DSA-1',
    advisorySummary: null,
    cves: [],
    status: 'open',
    riskScore: 40,
    riskBreakdown: [],
    severity: 'medium',
    ssvc: null,
    kev,
    epssScore: null,
    slaDueAt: null,
    dueReason: null,
  };
}

const change = (
  findings: ChangeFindingRecord[],
  kev = false,
): Pick<ChangeDetail, 'team' | 'findings' | 'kev' | 'riskScore'> => ({
  team: 'payments',
  findings,
  kev,
  riskScore: 40,
});

describe('approval rules from the policy file', () => {
  it('orders environments by the policy list, most sensitive first', () => {
    expect(environmentsOf(policy, ['staging', 'lab', 'production', 'staging'])).toEqual([
      'production',
      'staging',
      'lab',
    ]);
  });

  it("resolves 'owner' to the team's approvers of the environment, '*' otherwise", () => {
    expect(resolveApprovers(policy, ['owner'], 'payments', 'production')).toEqual({
      users: ['2fe8df62-360d-4da0-886e-9365c9e9a495', 'U0PRODAPP01'],
      groups: [],
    });
    expect(resolveApprovers(policy, ['owner'], 'payments', 'staging')).toEqual({
      users: [],
      groups: ['S0PAYMENTS1'],
    });
    expect(resolveApprovers(policy, ['owner'], null, 'staging')).toEqual({ users: [], groups: [] });
  });

  it('applies the production rule to a change spanning staging and production, with production approvers', () => {
    const r = ruleFor(policy, change([finding('staging'), finding('production')]));
    expect(r.rule.name).toBe('prod');
    expect(r.rule.quorum).toBe(2);
    expect(r.rule.approvalTtlMs).toBe(24 * 3_600_000);
    expect(r.environment).toBe('production');
    expect(r.rule.approvers.users).toContain('U0PRODAPP01');
  });

  it('prefers the more specific KEV rule and adds the named team', () => {
    const r = ruleFor(policy, change([finding('production', true)], true));
    expect(r.rule.name).toBe('kev-prod');
    expect(r.rule.approvers.users).toEqual([
      '2fe8df62-360d-4da0-886e-9365c9e9a495',
      'U0PRODAPP01',
      'U0SECOPS001',
    ]);
  });

  it('falls back to the default requirement', () => {
    const r = ruleFor(policy, change([finding('staging')]));
    expect(r.rule.name).toBe('default');
    expect(r.rule.quorum).toBe(1);
    expect(r.rule.approvers.groups).toEqual(['S0PAYMENTS1']);
  });
});
