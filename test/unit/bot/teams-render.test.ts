/**
 * Every platform-neutral view rendered as an Adaptive Card: schema 1.5, only the elements and
 * properties Teams understands, within the message size limit however large the view, and the
 * text people or feeds wrote kept out of markdown.
 */
import { describe, expect, it } from 'vitest';
import {
  assembleMetrics,
  emptyCounts,
  FLEET,
  headlines,
  trendPoints,
  verdictOf,
  type ScopeMetrics,
} from '../../../src/core/metrics/definitions.js';
import {
  CARD_CONTENT_TYPE,
  renderCard,
  renderCampaignWithNotices,
  renderForm,
  type AdaptiveCard,
} from '../../../src/bot/teams/index.js';
import { commandText } from '../../../src/bot/teams/bot.js';
import { md } from '../../../src/bot/teams/cards.js';
import { patchHelp, notice, type MessageContent } from '../../../src/bot/views/index.js';
import { sampleCampaign } from '../../integration/teams/support.js';
import { sampleFeeds, sampleNotCovered } from '../../support/metrics-views.js';

const ELEMENTS = new Set([
  'TextBlock',
  'RichTextBlock',
  'FactSet',
  'Container',
  'Image',
  'Input.Text',
  'Input.Date',
  'Input.ChoiceSet',
]);
const ACTIONS = new Set(['Action.Execute', 'Action.OpenUrl']);

/** Problems with a card, by the Adaptive Cards 1.5 schema for what patchbot uses. */
function problems(card: AdaptiveCard): string[] {
  const out: string[] = [];
  if (card.type !== 'AdaptiveCard') out.push('root type');
  if (card.version !== '1.5') out.push('version');
  if (!Array.isArray(card.body) || card.body.length === 0) out.push('empty body');
  const ids = new Set<string>();
  const walk = (el: Record<string, unknown>, path: string) => {
    const type = String(el.type);
    if (!ELEMENTS.has(type)) out.push(`${path}: element ${type}`);
    switch (type) {
      case 'TextBlock':
        if (typeof el.text !== 'string' || el.text === '') out.push(`${path}: TextBlock without text`);
        break;
      case 'RichTextBlock':
        for (const r of el.inlines as Record<string, unknown>[]) {
          if (r.type !== 'TextRun' || typeof r.text !== 'string') out.push(`${path}: bad inline`);
          const sel = r.selectAction as Record<string, unknown> | undefined;
          if (sel && (sel.type !== 'Action.OpenUrl' || !/^https?:\/\//.test(String(sel.url))))
            out.push(`${path}: bad link`);
        }
        break;
      case 'FactSet':
        for (const f of el.facts as Record<string, unknown>[])
          if (typeof f.title !== 'string' || typeof f.value !== 'string') out.push(`${path}: bad fact`);
        break;
      case 'Container':
        (el.items as Record<string, unknown>[]).forEach((c, i) => walk(c, `${path}.items[${i}]`));
        break;
      case 'Image':
        if (typeof el.url !== 'string') out.push(`${path}: image url`);
        break;
      default:
        if (type.startsWith('Input.')) {
          if (typeof el.id !== 'string') out.push(`${path}: input id`);
          if (ids.has(el.id as string)) out.push(`${path}: duplicate id`);
          ids.add(el.id as string);
        }
    }
  };
  card.body.forEach((el, i) => walk(el, `body[${i}]`));
  for (const a of card.actions ?? []) {
    if (!ACTIONS.has(a.type)) out.push(`action ${a.type}`);
    if (a.type === 'Action.Execute' && (typeof a.verb !== 'string' || a.title === ''))
      out.push('Execute without verb');
  }
  for (const e of card.msteams.entities ?? [])
    if (!JSON.stringify(card.body).includes(JSON.stringify(e.text).slice(1, -1)))
      out.push(`mention ${e.text} not in the text`);
  return out;
}

function metrics(scope = 'team:payments'): ScopeMetrics {
  const raw = emptyCounts();
  raw.hosts = 40;
  raw.exposedHosts = 6;
  raw.inventoried = 39;
  raw.rebootRequired = 3;
  raw.openByBand = { critical: 2, high: 5, medium: 9, low: 4, none: 1 };
  raw.openByAge = { lt7: 8, d7to30: 6, d30to90: 5, ge90: 2 };
  raw.openOverdue = 3;
  raw.kevOpen = 2;
  raw.kevOverdue = 1;
  raw.slaDue = { critical: 4, high: 10, medium: 0, low: 0, none: 0 };
  raw.slaMet = { critical: 3, high: 9, medium: 0, low: 0, none: 0 };
  raw.remediation.all = { fixed: 12, meanDays: 4.2, p90Days: 9.5 };
  raw.remediation.critical = { fixed: 3, meanDays: 1.5, p90Days: 2 };
  raw.hostRunsFinished = 20;
  raw.hostRunsSucceeded = 19;
  raw.acceptancesActive = 2;
  raw.acceptancesExpiringSoon = 1;
  return assembleMetrics(raw, {
    scope: scope === 'fleet' ? FLEET : { kind: 'team', name: 'payments' },
    asOf: new Date('2026-03-02T09:00:00Z'),
    threshold: 'high',
    expiringSoonDays: 14,
  });
}

const asOf = new Date('2026-03-02T09:00:00Z');
const cve = (id: string) => ({ id, url: `https://nvd.nist.gov/vuln/detail/${id}` });

function everyView(n: number): MessageContent[] {
  const m = metrics();
  const riskLine = (i: number) => ({
    package: `pkg-${i}`,
    advisoryId: `DSA-${5000 + i}-1`,
    advisoryUrl: `https://security-tracker.debian.org/tracker/DSA-${5000 + i}-1`,
    cves: Array.from({ length: Math.min(n, 50) }, (_, j) => cve(`CVE-2024-${10000 + j}`)),
    fixedVersion: '1.2.3-1',
    score: 80,
    band: 'high' as const,
    kev: i % 2 === 0,
    due: new Date('2026-03-01T00:00:00Z'),
    hosts: 3,
  });
  const lines = <T>(make: (i: number) => T) => ({
    total: n,
    lines: Array.from({ length: Math.min(n, 10) }, (_, i) => make(i)),
  });
  return [
    sampleCampaign({
      cves: Array.from({ length: n }, (_, i) => cve(`CVE-2024-${10000 + i}`)),
      hosts: { count: n * 3, names: Array.from({ length: n }, (_, i) => `host-${i}`) },
      escalationReason: 'Escalated: CVE-2023-4911 was added to CISA KEV',
    }),
    {
      type: 'hosts',
      title: 'Affected hosts',
      hosts: Array.from({ length: n }, (_, i) => ({
        name: `host-${i}`,
        environment: 'prod',
        installedVersion: '1.0',
      })),
    },
    {
      type: 'summary',
      team: 'payments',
      newFixes: n,
      packages: n,
      findings: n * 2,
      top: Array.from({ length: Math.min(n, 10) }, (_, i) => ({
        changeId: `c${i}`,
        changeNumber: i + 1,
        package: `pkg-${i}`,
        fixedVersion: '2.0',
        score: 90 - i,
        band: 'critical' as const,
        kev: true,
        hostCount: 4,
      })),
      statusCommand: 'patch status',
      asOf,
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'fleet',
        hosts: 40,
        openByBand: { critical: 1, high: 2, medium: 3, low: 4, none: 5 },
        kevOverdue: 1,
        slaBreachesThisWeek: 2,
        hostsNeedingReboot: 3,
        pendingApprovals: 4,
        deployments: Array.from({ length: n }, (_, i) => ({
          changeId: `c${i}`,
          changeNumber: i,
          package: 'openssl',
          fixedVersion: '3.0.13',
          ring: 1,
          rings: 3,
          team: 'web',
        })),
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'host',
        host: 'pay-1',
        environment: 'production',
        team: 'payments',
        os: 'Debian 12',
        kernel: '6.1.0-18-amd64',
        lastInventory: asOf,
        rebootRequired: true,
        open: Array.from({ length: n }, (_, i) => ({
          package: `p${i}`,
          installedVersion: '1',
          fixedVersion: '2',
          cves: ['CVE-2024-1'],
          score: i % 100,
          band: 'low' as const,
          due: asOf,
          kev: false,
        })),
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'cve',
        cve: cve('CVE-2023-4911'),
        summary: 'Looney Tunables',
        cvss: { score: 7.8, version: '3.1' },
        kev: { dueDate: asOf, ransomware: true },
        epss: { score: 0.94, percentile: 0.99 },
        ssvc: 'Act',
        affectedHosts: 12,
        campaigns: Array.from({ length: n }, (_, i) => ({
          changeId: `c${i}`,
          package: 'libc6',
          fixedVersion: '2.36',
          team: 'payments',
          state: 'pending' as const,
        })),
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'advisory',
        id: 'DSA-5514-1',
        url: 'https://security-tracker.debian.org/tracker/DSA-5514-1',
        cves: Array.from({ length: n }, (_, i) => cve(`CVE-2024-${10000 + i}`)),
        affectedHosts: 2,
        campaigns: [],
      },
    },
    {
      type: 'coverage',
      team: 'payments',
      metrics: m,
      headlines: headlines(m, metrics()),
      trend: trendPoints([], m, '2026-03-02', 8),
      breakdown: [
        {
          kind: 'environment',
          rows: Array.from({ length: n }, (_, i) => ({ name: `env-${i}`, metrics: m })),
        },
      ],
      weekStart: '2026-03-02',
      asOf,
      feeds: sampleFeeds(),
      notCovered: sampleNotCovered(n),
    },
    {
      type: 'digest',
      team: 'payments',
      weekStart: '2026-03-02',
      verdict: verdictOf(m),
      headlines: headlines(m),
      metrics: m,
      topRisks: Array.from({ length: Math.min(n, 5) }, (_, i) => riskLine(i)),
      slaBreaches: lines(riskLine),
      dueThisWeek: lines(riskLine),
      patched: { ...lines((i) => ({ package: `fixed-${i}`, findings: 2, hosts: 1 })), hosts: 7 },
      expiringAcceptances: {
        ...lines((i) => ({
          owner: 'alice',
          reason: 'WAF',
          expires: asOf,
          package: `p${i}`,
          cves: [],
          findings: 1,
        })),
        withinDays: 14,
      },
      trend: [],
      chart: { filename: 'trend.png', title: 'Trend', altText: 'coverage', width: 800, height: 400 },
      coverageCommand: 'patch coverage payments',
      asOf,
      feeds: sampleFeeds(),
      notCovered: sampleNotCovered(n),
    },
    {
      type: 'deployment-progress',
      changeId: 'c1',
      changeNumber: 42,
      deployment: 3,
      tone: 'error',
      text: 'Ring 1/3 (canary) halted: 1 host failed.',
      hosts: Array.from({ length: n }, (_, i) => ({
        host: `h${i}`,
        outcome: i === 0 ? ('failed' as const) : ('succeeded' as const),
        detail: 'E: dpkg was interrupted',
      })),
      detail: 'Press Roll back to restore the previous versions.',
      mentions: [
        { platform: 'teams', kind: 'user', id: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', name: 'Alice' },
        { platform: 'slack', kind: 'user', id: 'U0ALICE01', name: 'alice (Slack)' },
      ],
      at: asOf,
    },
    patchHelp('patch', 'Unknown subcommand "frobnicate"'),
    notice('warning', 'You are not an approver.', 'Ask an approver of payments.'),
  ];
}

describe('every view as an Adaptive Card', () => {
  for (const size of [3, 5000]) {
    for (const view of everyView(size)) {
      const name = `${view.type}${view.type === 'status' ? `/${view.scope.kind}` : ''} with ${size} items`;
      it(name, () => {
        const msg = renderCard(view);
        expect(problems(msg.card)).toEqual([]);
        expect(Buffer.byteLength(JSON.stringify(msg))).toBeLessThanOrEqual(38_000);
        expect(msg.summary.length).toBeGreaterThan(0);
        if (size > 100 && view.type !== 'help' && view.type !== 'notice' && view.type !== 'summary')
          expect(JSON.stringify(msg.card)).toMatch(/…and [\d,]+ more/);
      });
    }
  }

  it('renders the whole exhaustive MessageContent union (one sample per type)', () => {
    const types = new Set(everyView(1).map((v) => v.type));
    expect([...types].sort()).toEqual(
      [
        'campaign',
        'coverage',
        'deployment-progress',
        'digest',
        'help',
        'hosts',
        'notice',
        'status',
        'summary',
      ].sort(),
    );
  });
});

describe('campaign card content', () => {
  const card = renderCard(sampleCampaign()).card;
  const text = JSON.stringify(card);

  it('shows risk and top factors, CVEs, KEV/EPSS badges, SSVC, hosts, due date, rings and state', () => {
    for (const s of [
      'Risk 91/100',
      'CVSS 7.8 (+31)',
      'CVE-2023-4911',
      'KEV',
      'EPSS',
      '0.94 (99th percentile)',
      'SSVC',
      'Act',
      'pay-1, pay-2',
      '2026-03-04',
      'due in 2 days',
      'canary (1) → broad (1)',
      'Waiting for approval',
    ])
      expect(text).toContain(s);
  });

  it('has one Action.Execute per button, the verb its kind, the change id in the data', () => {
    expect(card.actions?.map((a) => [a.type, a.verb, a.data])).toEqual(
      ['approve', 'reject', 'defer', 'accept_risk', 'details'].map((v) => [
        'Action.Execute',
        v,
        { changeId: sampleCampaign().changeId },
      ]),
    );
  });

  it('keeps feed text out of markdown: summaries are TextRuns', () => {
    expect(text).toContain(
      '{"type":"TextRun","text":"glibc: buffer overflow in ld.so (Looney Tunables) *not markdown*"}',
    );
  });

  it('puts notices (a refusal) above the campaign for the person who clicked', () => {
    const msg = renderCampaignWithNotices(sampleCampaign(), [notice('warning', 'Not an approver.')]);
    expect(msg.card.body[0]).toMatchObject({ type: 'Container', style: 'warning' });
    expect(msg.summary).toBe('Not an approver.');
  });

  it('posts as an attachment of the adaptive card content type', () => {
    expect(CARD_CONTENT_TYPE).toBe('application/vnd.microsoft.card.adaptive');
  });
});

describe('decision forms', () => {
  it('are valid cards whose submit carries the change and whose cancel carries no inputs', () => {
    for (const req of [
      { kind: 'reject' as const, changeId: 'c1', title: 'libc6' },
      { kind: 'defer' as const, changeId: 'c1', title: 'libc6', maxDate: '2026-04-01' },
      {
        kind: 'accept_risk' as const,
        changeId: 'c1',
        title: 'libc6',
        defaultExpiry: '2026-04-01',
        maxExpiry: '2026-05-01',
      },
    ]) {
      const { card } = renderForm(req, '2026-03-02');
      expect(problems(card)).toEqual([]);
      const [submit, cancel] = card.actions ?? [];
      expect(submit).toMatchObject({
        type: 'Action.Execute',
        verb: req.kind,
        data: { changeId: 'c1', step: 'submit' },
      });
      expect(cancel).toMatchObject({ verb: 'refresh', associatedInputs: 'none' });
    }
  });
});

describe('md', () => {
  it.each([
    ['snake_case_name', 'snake\\_case\\_name'],
    ['**bold** [link](x)', '\\*\\*bold\\*\\* \\[link\\](x)'],
    ['- not a list', '\\- not a list'],
    ['1. not a list', '1\\. not a list'],
    ['2.36-9+deb12u3', '2.36-9+deb12u3'],
  ])('%s', (input, out) => {
    expect(md(input)).toBe(out);
  });
});

describe('commandText', () => {
  it.each([
    ['<at>patchbot</at> patch status web-1', 'status web-1'],
    ['<at>patchbot</at>&nbsp;patch coverage payments', 'coverage payments'],
    ['patch help', 'help'],
    ['/patch help', 'help'],
    ['status', 'status'],
    ['<at>patchbot</at>', ''],
    ['<p>patch status CVE-2023-4911</p>', 'status CVE-2023-4911'],
    ['patchwork', 'patchwork'],
  ])('%s', (raw, out) => {
    expect(commandText(raw)).toBe(out);
  });
});
