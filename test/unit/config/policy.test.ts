import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  DEFAULT_POLICY,
  checkPolicyText,
  formatPolicyIssue,
  type PolicyIssue,
} from '../../../src/config/policy.js';

const EXAMPLE = fileURLToPath(new URL('../../../patchbot.example.yaml', import.meta.url));

function errorsOf(text: string): string[] {
  const check = checkPolicyText(text, 'patchbot.yaml');
  return check.errors.map(formatPolicyIssue);
}

/** 1-based line of the first line containing `needle`. */
function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((l) => l.includes(needle));
  if (index < 0) throw new Error(`fixture has no line with ${needle}`);
  return index + 1;
}

const TEAM = `teams:
  - name: platform
    slack: { channels: [C05PLATFORM1] }
    approvers:
      '*': { slackUsers: [U01ALICE001] }
`;

describe('policy file: one bad value each', () => {
  // [case, yaml, marker line text, path, expected words in the message (expectation + bad value)]
  const cases: [string, string, string, string, string[]][] = [
    [
      'typo in a key',
      `teams:\n  - name: platform\n    slack:\n      chanels: [C05PLATFORM1]\n`,
      'chanels',
      'teams[0].slack.chanels',
      ['unknown key', 'did you mean "channels"?'],
    ],
    [
      'key at the wrong level',
      `teams:\n  - name: platform\n    chanels: [C05PLATFORM1]\n`,
      'chanels',
      'teams[0].chanels',
      ['unknown key', '"slack.channels"'],
    ],
    ['unknown top-level section', `ringz: []\n`, 'ringz', 'ringz', ['unknown key', 'did you mean "rings"?']],
    [
      'wrong type: text for a number',
      `approval:\n  default:\n    quorum: two\n`,
      'quorum',
      'approval.default.quorum',
      ['expected a positive integer', 'got "two"'],
    ],
    [
      'zero quorum',
      `approval:\n  rules:\n    - name: kev\n      match: { kev: true }\n      quorum: 0\n`,
      'quorum',
      'approval.rules[0].quorum',
      ['expected a positive integer', 'got 0'],
    ],
    [
      'bad time zone',
      `maintenanceWindows:\n  - name: w\n    schedule: Tue 02:00-04:00\n    timeZone: Mars/Olympus\n`,
      'timeZone',
      'maintenanceWindows[0].timeZone',
      ['expected an IANA time zone', 'got "Mars/Olympus"'],
    ],
    [
      'misspelt time zone gets a suggestion',
      `teams:\n  - name: t\n    digest: { timeZone: Europe/Berln }\n`,
      'digest',
      'teams[0].digest.timeZone',
      ['did you mean "Europe/Berlin"?', 'got "Europe/Berln"'],
    ],
    [
      'bad duration',
      `rings:\n  - name: canary\n    soak: 2 hours\n`,
      'soak',
      'rings[0].soak',
      ['expected a duration', 'got "2 hours"'],
    ],
    [
      'bad fingerprint',
      `hosts:\n  - name: web-1\n    hostKey: SHA256:abc\n`,
      'hostKey',
      'hosts[0].hostKey',
      ['expected an SSH host key fingerprint', 'got "SHA256:abc"'],
    ],
    [
      'MD5 fingerprint',
      `hosts:\n  - name: web-1\n    hostKey: "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"\n`,
      'hostKey',
      'hosts[0].hostKey',
      ['expected an SSH host key fingerprint'],
    ],
    [
      'criticality out of range',
      `hosts:\n  - name: web-1\n    criticality: 7\n`,
      'criticality',
      'hosts[0].criticality',
      ['expected an integer from 1 to 4', 'got 7'],
    ],
    [
      'address that an SSH client could read as an option',
      `hosts:\n  - name: web-1\n    address: -oProxyCommand=touch /tmp/x\n`,
      'address',
      'hosts[0].address',
      ['expected a host name or an IP address'],
    ],
    [
      'bad recurring window',
      `maintenanceWindows:\n  - name: w\n    schedule: Tuesday at two\n    timeZone: UTC\n`,
      'schedule',
      'maintenanceWindows[0].schedule',
      ['expected a recurring window'],
    ],
    [
      'bad blackout date',
      `maintenanceWindows:\n  - name: w\n    schedule: Tue 02:00-04:00\n    timeZone: UTC\n    blackoutDates: ['2025-02-30']\n`,
      'blackoutDates',
      'maintenanceWindows[0].blackoutDates[0]',
      ['expected a date', 'got "2025-02-30"'],
    ],
    [
      'bad weekday',
      `teams:\n  - name: t\n    digest: { weekday: Mondy }\n`,
      'digest',
      'teams[0].digest.weekday',
      ['expected a weekday', 'got "Mondy"'],
    ],
    [
      'bad time of day',
      `teams:\n  - name: t\n    digest: { time: '25:00' }\n`,
      'digest',
      'teams[0].digest.time',
      ['expected a time of day', 'got "25:00"'],
    ],
    [
      'bad Slack channel id',
      `teams:\n  - name: t\n    slack: { channels: ['#general'] }\n`,
      'slack',
      'teams[0].slack.channels[0]',
      ['expected a Slack channel id', 'got "#general"'],
    ],
    [
      'Slack user id where a user group belongs',
      `teams:\n  - name: t\n    approvers:\n      production: { slackUserGroups: [U01ALICE001] }\n`,
      'slackUserGroups',
      'teams[0].approvers.production.slackUserGroups[0]',
      ['expected a Slack user group id', 'got "U01ALICE001"'],
    ],
    [
      'bad Entra object id',
      `teams:\n  - name: t\n    approvers:\n      production: { entraUsers: [alice@example.com] }\n`,
      'entraUsers',
      'teams[0].approvers.production.entraUsers[0]',
      ['expected an Entra object id', 'got "alice@example.com"'],
    ],
    [
      'enum value with a typo',
      `deployments:\n  reboot:\n    policy: if-requried\n`,
      'policy',
      'deployments.reboot.policy',
      [
        'expected one of "never", "if-required", "always"',
        'did you mean "if-required"?',
        'got "if-requried"',
      ],
    ],
    [
      'failure budget',
      `rings:\n  - name: canary\n    failureBudget: ten percent\n`,
      'failureBudget',
      'rings[0].failureBudget',
      ['expected a number of hosts', 'got "ten percent"'],
    ],
    [
      'health check with a shell string',
      `deployments:\n  healthChecks:\n    - name: web\n      command: systemctl is-active nginx\n`,
      'command',
      'deployments.healthChecks[0].command',
      ['expected an argument list', 'got "systemctl is-active nginx"'],
    ],
    [
      'health check URL that is not http',
      `deployments:\n  healthChecks:\n    - name: web\n      http: { url: 'ftp://{address}/' }\n`,
      'http',
      'deployments.healthChecks[0].http.url',
      ['expected an http(s) URL', 'got "ftp://{address}/"'],
    ],
    [
      'risk weight of the wrong type',
      `risk:\n  weights:\n    cvss: lots\n`,
      'cvss',
      'risk.weights.cvss',
      ['expected a number', 'got "lots"'],
    ],
    [
      'missing required key',
      `maintenanceWindows:\n  - name: w\n    schedule: Tue 02:00-04:00\n`,
      'name: w',
      'maintenanceWindows[0].timeZone',
      ['missing', 'expected an IANA time zone'],
    ],
    [
      'feed source that is neither built in nor has a url',
      `feeds:\n  sources:\n    kve: { enabled: false }\n`,
      'kve',
      'feeds.sources.kve.url',
      ['expected a url', 'did you mean the built-in source "kev"?'],
    ],
    [
      'dangling team reference',
      `${TEAM}hosts:\n  - name: web-1\n    team: platfrom\n`,
      'platfrom',
      'hosts[0].team',
      ['unknown team "platfrom"', 'did you mean "platform"?'],
    ],
    [
      'dangling group in a window',
      `${TEAM}groups:\n  - name: berlin\n    match: { labels: { site: berlin } }\nmaintenanceWindows:\n  - name: w\n    match: { groups: [berlim] }\n    schedule: Tue 02:00-04:00\n    timeZone: Europe/Berlin\n`,
      'berlim',
      'maintenanceWindows[0].match.groups[0]',
      ['unknown group "berlim"', 'did you mean "berlin"?'],
    ],
    [
      'unknown environment',
      `environments: [production, staging]\nhosts:\n  - name: web-1\n    environment: prod\n`,
      'environment: prod',
      'hosts[0].environment',
      ['unknown environment "prod"', 'production, staging'],
    ],
    [
      'approver set for an undeclared environment',
      `teams:\n  - name: t\n    approvers:\n      prodution: { slackUsers: [U01ALICE001] }\n`,
      'prodution',
      'teams[0].approvers.prodution',
      ['unknown environment "prodution"', 'did you mean "production"?'],
    ],
    [
      'approval rule naming a team that does not exist',
      `${TEAM}approval:\n  rules:\n    - name: kev\n      match: { kev: true }\n      approvers: [owner, secops]\n`,
      'secops',
      'approval.rules[0].approvers[1]',
      ['unknown team "secops"', 'or "owner"'],
    ],
    [
      'host ring that does not exist',
      `hosts:\n  - name: web-1\n    ring: canery\n`,
      'canery',
      'hosts[0].ring',
      ['unknown ring "canery"', 'did you mean "canary"?'],
    ],
    [
      'duplicate team',
      `${TEAM}  - name: platform # again\n`,
      '# again',
      'teams[1].name',
      ['duplicate name "platform"'],
    ],
    [
      'catch-all ring before the last one',
      `rings:\n  - name: first\n  - name: second\n    percent: 50\n`,
      'name: first',
      'rings[0]',
      ['neither match nor percent', 'only the last ring may'],
    ],
    [
      'default expiry longer than the maximum',
      `riskAcceptance:\n  maxExpiryDays: 30\n  defaultExpiryDays: 60\n`,
      'defaultExpiryDays',
      'riskAcceptance.defaultExpiryDays',
      ['expected at most maxExpiryDays (30)', 'got 60'],
    ],
  ];

  it.each(cases)('%s', (_name, yaml, marker, path, words) => {
    const check = checkPolicyText(yaml, 'patchbot.yaml');
    expect(check.policy).toBeUndefined();
    const issue = check.errors.find((e) => e.path === path);
    expect(
      issue,
      `no error at ${path}; got:\n${check.errors.map(formatPolicyIssue).join('\n')}`,
    ).toBeDefined();
    const { line } = issue as PolicyIssue;
    const expected = lineOf(yaml, marker);
    expect(line).toBe(expected);
    const text = formatPolicyIssue(issue as PolicyIssue);
    expect(text.startsWith(`patchbot.yaml:${expected}:`)).toBe(true);
    for (const w of words) expect(text).toContain(w);
  });
});

describe('policy file: reporting', () => {
  it('reports every schema error, not just the first, in file order', () => {
    const yaml = `teams:\n  - name: t\n    chanels: []\nrings:\n  - name: a\n    soak: soon\napproval:\n  default:\n    quorum: two\n`;
    const errors = errorsOf(yaml);
    expect(errors).toHaveLength(3);
    expect(errors.map((e) => Number(e.split(':')[1]))).toEqual([3, 6, 9]);
  });

  it('points at the column of the bad value', () => {
    const yaml = `approval:\n  default:\n    quorum: two\n`;
    const [issue] = checkPolicyText(yaml).errors;
    expect(issue?.col).toBe(yaml.split('\n')[2].indexOf('two') + 1);
  });

  it('reports YAML syntax errors with their position', () => {
    const yaml = `teams:\n  - name: a\n   bad indent: [\n`;
    const check = checkPolicyText(yaml, 'p.yaml');
    expect(check.errors.length).toBeGreaterThan(0);
    expect(check.errors[0]?.message).toMatch(/^invalid YAML/);
    expect(check.errors[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('refuses duplicate keys', () => {
    const errors = errorsOf(`rings: []\nrings: []\n`);
    expect(errors.join('\n')).toMatch(/patchbot\.yaml:2:\d+ invalid YAML: .*unique/i);
  });

  it('refuses a file that is not a mapping', () => {
    expect(errorsOf('- a\n- b\n')[0]).toContain('expected a mapping of sections');
  });

  it('lists the known keys when nothing is close', () => {
    const [error] = errorsOf('zzzzzzzz: 1\n');
    expect(error).toContain('known keys: version, environments, teams, hosts');
  });

  it('warns about selectors no inline host can match, without failing', () => {
    const yaml = `${TEAM}routing: { defaultTeam: platform }\nhosts:\n  - name: web-1\n    hostKey: SHA256:k1+IiDYuua1FFYERo7cAw5geMny6omdVylBpa1YobIc\n    labels: { role: web }\nrings:\n  - name: canary\n    match: { labels: { role: db } }\n  - name: rest\n`;
    const check = checkPolicyText(yaml);
    expect(check.errors).toEqual([]);
    expect(check.policy).toBeDefined();
    expect(check.warnings.map((w) => w.path)).toEqual(['rings[0].match.labels.role']);
  });
});

describe('policy file: values come out ready to use', () => {
  it('an empty file is the built-in defaults', () => {
    expect(checkPolicyText('').policy).toEqual(DEFAULT_POLICY);
    expect(checkPolicyText('# only a comment\n').policy).toEqual(DEFAULT_POLICY);
  });

  it('fills host connection settings from ssh defaults and deployments', () => {
    const yaml = `ssh: { user: ops, port: 2200 }\ndeployments: { sudo: false }\nhosts:\n  - name: a.example.com\n  - name: b\n    address: 10.0.0.2\n    port: 22\n    sudo: true\n`;
    const policy = checkPolicyText(yaml).policy!;
    expect(policy.hosts.map((h) => [h.address, h.port, h.user, h.sudo])).toEqual([
      ['a.example.com', 2200, 'ops', false],
      ['10.0.0.2', 22, 'ops', true],
    ]);
  });

  it('supports anchors and merge keys, with x- keys as their home', () => {
    const yaml = `x-host: &host\n  environment: staging\n  criticality: 4\nhosts:\n  - <<: *host\n    name: a\n  - <<: *host\n    name: b\n    criticality: 2\n`;
    const policy = checkPolicyText(yaml).policy!;
    expect(policy.hosts.map((h) => [h.name, h.environment, h.criticality])).toEqual([
      ['a', 'staging', 4],
      ['b', 'staging', 2],
    ]);
  });

  it('merges feed sources over the built-in ones', () => {
    const yaml = `feeds:\n  sources:\n    nvd: { enabled: true }\n    kev: { enabled: false }\n    mirror: { url: /srv/osv }\n`;
    const sources = checkPolicyText(yaml).policy!.feeds.sources;
    const byName = new Map(sources.map((s) => [s.name, s]));
    expect(byName.get('nvd')).toEqual({ name: 'nvd', url: 'nvd', enabled: true });
    expect(byName.get('kev')?.enabled).toBe(false);
    expect(byName.get('mirror')).toEqual({ name: 'mirror', url: '/srv/osv', enabled: true });
    expect(sources.length).toBe(DEFAULT_POLICY.feeds.sources.length + 1);
  });

  it('defaults written out explicitly parse to the same policy as no file at all', () => {
    const explicit = stringify({
      approval: { default: { quorum: 1, approvers: ['owner'], noSelfApproval: true, expiry: '72h' } },
      deployments: { installTimeout: '30m', reboot: { policy: 'if-required', waitLimit: '15m' } },
      ssh: { user: 'patchbot', port: 22, connectTimeout: '10s', commandTimeout: '5m' },
    });
    expect(checkPolicyText(explicit).policy).toEqual(DEFAULT_POLICY);
  });
});

describe('patchbot.example.yaml', () => {
  const text = readFileSync(EXAMPLE, 'utf8');
  const check = checkPolicyText(text, 'patchbot.example.yaml');

  it('validates with no errors and no warnings', () => {
    expect(check.errors.map(formatPolicyIssue)).toEqual([]);
    expect(check.warnings.map(formatPolicyIssue)).toEqual([]);
  });

  it('has what it promises: two teams plus security, prod/staging, three rings, Berlin and New York windows, KEV quorum 2', () => {
    const p = check.policy!;
    expect(p.teams.map((t) => t.name)).toEqual(expect.arrayContaining(['platform', 'payments']));
    expect(p.environments).toEqual(['production', 'staging']);
    expect(p.rings.map((r) => r.name)).toEqual(['canary', 'pilot', 'broad']);
    expect(p.maintenanceWindows.map((w) => w.timeZone).sort()).toEqual(['America/New_York', 'Europe/Berlin']);
    const kev = p.approval.rules.find((r) => r.match.kev === true);
    expect(kev?.quorum).toBe(2);
  });

  it('writes out every top-level section', () => {
    const keys = Object.keys(DEFAULT_POLICY);
    for (const key of keys) expect(text).toMatch(new RegExp(`^${key}:`, 'm'));
  });
});
