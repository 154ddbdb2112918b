import { describe, expect, it } from 'vitest';
import {
  clip,
  esc,
  joinWithin,
  listSections,
  LIMITS,
  type KnownBlock,
} from '../../../src/bot/slack/blocks.js';
import {
  ACTION_IDS,
  renderCampaign,
  renderHostList,
  renderMessage,
  renderSummary,
} from '../../../src/bot/slack/render.js';
import {
  campaignActions,
  cveRef,
  notice,
  patchHelp,
  type CampaignState,
  type CampaignView,
  type MessageContent,
  type SummaryView,
} from '../../../src/bot/views/index.js';
import { sampleCoverageView, sampleDigestView } from '../../support/metrics-views.js';

const asOf = new Date('2025-08-20T12:00:00Z');
const alice = { id: 'U01ALICE001', platform: 'slack' as const, name: 'alice' };

function view(
  overrides: Partial<CampaignView> = {},
  state: CampaignState = { kind: 'pending', approvals: [], required: 2 },
): CampaignView {
  return {
    type: 'campaign',
    changeId: '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21',
    changeNumber: 42,
    team: 'payments',
    environment: 'production',
    ecosystem: 'Debian:12',
    package: 'libssl3',
    sourcePackage: 'openssl',
    fixedVersion: '3.0.15-1~deb12u1',
    advisories: ['DSA-5764-1'],
    summary: 'openssl security update',
    risk: {
      score: 87.4,
      band: 'critical',
      topFactors: [
        { label: 'KEV: exploited in the wild', contribution: 30 },
        { label: 'CVSS 9.8', contribution: 39 },
        { label: 'EPSS 0.81 (97th percentile)', contribution: 12 },
      ],
    },
    cves: [cveRef('CVE-2024-5535', 'Debian:12')],
    kev: { dueDate: new Date('2025-09-01T00:00:00Z'), ransomware: true },
    epss: { score: 0.81, percentile: 0.973 },
    ssvc: 'Act',
    hosts: { count: 2, names: ['pay-db-1', 'pay-api-1'] },
    slaDue: new Date('2025-08-27T00:00:00Z'),
    slaReason: 'KEV due date',
    rings: [
      { name: 'canary', hostCount: 1 },
      { name: 'broad', hostCount: 1 },
    ],
    state,
    actions: campaignActions(state),
    asOf,
    ...overrides,
  };
}

/** Every Slack limit a message must respect; returns what is broken. */
function violations(msg: { text: string; blocks: KnownBlock[] }): string[] {
  const out: string[] = [];
  if (msg.text.length === 0) out.push('empty fallback text');
  if (msg.text.length > LIMITS.fallbackText) out.push(`fallback text ${msg.text.length}`);
  if (msg.blocks.length > LIMITS.blocksPerMessage) out.push(`${msg.blocks.length} blocks`);
  msg.blocks.forEach((b, i) => {
    const anyB = b as unknown as Record<string, unknown>;
    const text = (anyB.text as { text?: string } | undefined)?.text;
    if (b.type === 'header' && (text ?? '').length > LIMITS.headerText)
      out.push(`header ${i} ${text?.length}`);
    if (b.type === 'section') {
      if (text !== undefined && text.length > LIMITS.sectionText)
        out.push(`section ${i} text ${text.length}`);
      const fields = (anyB.fields as { text: string }[] | undefined) ?? [];
      if (fields.length > LIMITS.fields) out.push(`section ${i} ${fields.length} fields`);
      for (const f of fields)
        if (f.text.length > LIMITS.fieldText) out.push(`section ${i} field ${f.text.length}`);
      if (text === undefined && fields.length === 0) out.push(`section ${i} empty`);
    }
    if (b.type === 'context') {
      const els = anyB.elements as { text: string }[];
      if (els.length > LIMITS.contextElements) out.push(`context ${i} ${els.length} elements`);
    }
    if (b.type === 'actions') {
      const els = anyB.elements as { text: { text: string }; value: string }[];
      if (els.length > LIMITS.actionsElements) out.push(`actions ${i} ${els.length}`);
      for (const e of els)
        if (e.text.text.length > LIMITS.buttonText || e.value.length > LIMITS.buttonValue) out.push('button');
    }
  });
  return out;
}

const allText = (blocks: KnownBlock[]) => JSON.stringify(blocks);
const buttons = (blocks: KnownBlock[]) =>
  blocks.flatMap((b) => (b.type === 'actions' ? (b.elements as { action_id: string; value: string }[]) : []));

describe('renderCampaign', () => {
  it('a campaign with 300 hosts, 40 CVEs and long texts stays within every limit', () => {
    const cves = Array.from({ length: 40 }, (_, i) => cveRef(`CVE-2024-${String(10000 + i)}`, 'Debian:12'));
    const v = view({
      package: `lib${'x'.repeat(300)}`,
      fixedVersion: `1:${'9'.repeat(500)}`,
      summary: 'y'.repeat(10_000),
      cves,
      advisories: Array.from({ length: 80 }, (_, i) => `DLA-${3000 + i}-1`),
      hosts: { count: 300, names: Array.from({ length: 300 }, (_, i) => `host-${i}.example.org`) },
      rings: Array.from({ length: 60 }, (_, i) => ({ name: `ring-${i}`, hostCount: 5 })),
      risk: {
        score: 99,
        band: 'critical',
        topFactors: Array.from({ length: 20 }, (_, i) => ({
          label: `factor ${i} ${'z'.repeat(900)}`,
          contribution: i,
        })),
      },
      escalationReason: 'became KEV '.repeat(400),
    });
    const msg = renderCampaign(v);
    expect(violations(msg)).toEqual([]);
    // The CVE list is cut with "…and N more", and shown + hidden add up to 40.
    const cveSection = msg.blocks.find(
      (b) => b.type === 'section' && JSON.stringify(b).includes('*CVEs (40):*'),
    );
    const text = (cveSection as { text: { text: string } }).text.text;
    const shown = (text.match(/\|CVE-2024-\d+>/g) ?? []).length;
    const more = /…and (\d+) more/.exec(text);
    expect(more).not.toBeNull();
    expect(shown + Number(more?.[1])).toBe(40);
    expect(text).toContain('<https://security-tracker.debian.org/tracker/CVE-2024-10000|CVE-2024-10000>');
  });

  const cases: [CampaignState, string[]][] = [
    [
      { kind: 'pending', approvals: [], required: 2 },
      ['request', 'approve', 'reject', 'defer', 'accept_risk', 'details'],
    ],
    [
      { kind: 'pending', approvals: [{ by: alice, at: asOf }], required: 2 },
      ['request', 'approve', 'reject', 'defer', 'accept_risk', 'details'],
    ],
    [
      {
        kind: 'pending',
        approvals: [],
        required: 1,
        request: { by: alice, at: asOf, emergency: true },
      },
      ['approve', 'reject', 'defer', 'accept_risk', 'details'],
    ],
    [{ kind: 'approved', approvals: [{ by: alice, at: asOf }], required: 1, at: asOf }, ['details']],
    [{ kind: 'rejected', by: alice, at: asOf, reason: 'no' }, ['details']],
    [
      { kind: 'deferred', by: alice, at: asOf, until: new Date('2025-08-27T00:00:00Z') },
      ['approve', 'reject', 'details'],
    ],
    [
      {
        kind: 'risk-accepted',
        by: alice,
        at: asOf,
        reason: 'waf',
        expires: new Date('2025-09-20T00:00:00Z'),
      },
      ['details'],
    ],
    [{ kind: 'scheduled', startsAt: asOf, window: 'Tue 02:00-04:00' }, ['pause', 'abort', 'details']],
    [
      { kind: 'deploying', ring: 2, rings: 3, ringName: 'pilot', hostsDone: 4, hostsTotal: 9 },
      ['pause', 'abort', 'details'],
    ],
    [{ kind: 'done', at: asOf, hostsPatched: 12 }, ['details']],
    [{ kind: 'failed', at: asOf, reason: 'apt-get exited 100 on pay-db-1' }, ['details']],
    [{ kind: 'failed', at: asOf, reason: 'aborted', canRollBack: true }, ['rollback', 'details']],
    [
      { kind: 'halted', at: asOf, reason: 'failure budget spent', by: alice },
      ['rollback', 'abort', 'details'],
    ],
    [
      { kind: 'halted', at: asOf, reason: 'paused', by: alice, paused: true },
      ['resume', 'abort', 'rollback', 'details'],
    ],
    [{ kind: 'halted', at: asOf, reason: 'failure budget spent', rollingBack: true }, ['details']],
  ];

  it.each(cases)('state %j shows buttons %j', (state, expected) => {
    const msg = renderCampaign(view({}, state));
    expect(violations(msg)).toEqual([]);
    const bs = buttons(msg.blocks);
    expect(bs.map((b) => b.action_id)).toEqual(expected.map((k) => ACTION_IDS[k as keyof typeof ACTION_IDS]));
    expect(bs.every((b) => b.value === '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21')).toBe(true);
  });

  it('says who decided, when, and the state in the fallback text', () => {
    const approvals = [{ by: alice, at: asOf }];
    const pending = renderCampaign(view({}, { kind: 'pending', approvals, required: 2 }));
    expect(allText(pending.blocks)).toContain('1 of 2 (<@U01ALICE001> <!date^');
    expect(pending.text).toContain('waiting for approval (1/2)');
    const deploying = renderCampaign(view({}, { kind: 'deploying', ring: 2, rings: 3 }));
    expect(deploying.text).toContain('deploying ring 2/3');
    expect(allText(deploying.blocks)).toContain('*Deploying* ring 2/3');
    const rejected = renderCampaign(
      view({}, { kind: 'rejected', by: { name: 'bob', platform: 'cli' }, at: asOf, reason: 'vendor freeze' }),
    );
    expect(allText(rejected.blocks)).toContain('*Rejected* by bob');
    expect(allText(rejected.blocks)).toContain('vendor freeze');
  });

  it('shows KEV, EPSS and SSVC badges, and overdue SLAs', () => {
    const msg = renderCampaign(view({ slaDue: new Date('2025-08-17T00:00:00Z') }));
    const all = allText(msg.blocks);
    expect(all).toContain('*KEV* (CISA) due <!date^');
    expect(all).toContain('known ransomware use');
    expect(all).toContain('*EPSS* 0.81 (97th percentile)');
    expect(all).toContain('*SSVC* Act');
    expect(all).toContain('overdue by 3 days');
    expect(msg.text).toContain('(overdue)');
    const calm = renderCampaign(view({ kev: undefined, epss: undefined }));
    expect(allText(calm.blocks)).not.toContain('*KEV*');
    expect(allText(calm.blocks)).not.toContain('EPSS*');
    expect(allText(calm.blocks)).toContain('due in 7 days');
  });

  it('leads with the reason of a re-post', () => {
    const msg = renderCampaign(view({ escalationReason: 'CVE-2024-5535 was added to CISA KEV' }));
    expect(allText([msg.blocks[0]])).toContain('Posted again:* CVE-2024-5535 was added to CISA KEV');
    expect(msg.text).toMatch(/^Posted again/);
  });

  it('escapes text that comes from feeds and people', () => {
    const msg = renderCampaign(
      view(
        { summary: '<!channel> & <https://evil.example|click>' },
        { kind: 'rejected', by: alice, at: asOf, reason: '<@U999> <!here>' },
      ),
    );
    const all = allText(msg.blocks);
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).toContain('&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });
});

describe('other views', () => {
  it('a summary shows the top 10 of a burst and points to /patch status', () => {
    const top = Array.from({ length: 200 }, (_, i) => ({
      changeId: `id-${i}`,
      changeNumber: i + 1,
      package: `pkg-${i}`,
      fixedVersion: '1.0',
      score: 100 - i / 2,
      band: 'high' as const,
      kev: i % 7 === 0,
      hostCount: i,
    }));
    const s: SummaryView = {
      type: 'summary',
      team: 'platform',
      newFixes: 200,
      packages: 150,
      findings: 500,
      top,
      statusCommand: '/patch status',
      asOf,
    };
    const msg = renderSummary(s);
    expect(violations(msg)).toEqual([]);
    const all = allText(msg.blocks);
    expect(all).toContain('*#10*');
    expect(all).not.toContain('*#11*');
    expect(all).toContain('190 more fixes');
    expect(all).toContain('/patch status');
    expect(msg.text).toContain('200 new fixes across 150 packages');
  });

  it('a host list of 5,000 hosts fits one message and counts what it leaves out', () => {
    const hosts = Array.from({ length: 5000 }, (_, i) => ({
      name: `host-${String(i).padStart(4, '0')}.dc1.example.org`,
      environment: 'production',
      installedVersion: '3.0.13-1~deb12u1',
    }));
    const msg = renderHostList({ type: 'hosts', title: 'Affected hosts', hosts });
    expect(violations(msg)).toEqual([]);
    const all = msg.blocks.map((b) => (b as { text?: { text: string } }).text?.text ?? '').join('\n');
    const shown = (all.match(/host-\d{4}\.dc1/g) ?? []).length;
    const more = /…and ([\d,]+) more/.exec(all);
    expect(shown + Number(more?.[1].replace(/,/g, ''))).toBe(5000);
  });

  const contents: MessageContent[] = [
    patchHelp('/patch', 'Unknown subcommand "x"'),
    notice('warning', 'You are not an approver for team payments in production', 'Ask @platform-leads'),
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'team',
        team: 'payments',
        hosts: 10,
        openByBand: { critical: 1, high: 2, medium: 3, low: 4, none: 5 },
        kevOverdue: 1,
        slaBreachesThisWeek: 0,
        hostsNeedingReboot: 2,
        pendingApprovals: 3,
        deployments: Array.from({ length: 100 }, (_, i) => ({
          changeId: `c${i}`,
          changeNumber: i,
          package: 'p'.repeat(100),
          fixedVersion: '1',
          ring: 1,
          rings: 3,
        })),
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'host',
        host: 'pay-db-1',
        environment: 'production',
        os: 'Debian GNU/Linux 12 (bookworm)',
        kernel: '6.1.0-23-amd64',
        rebootRequired: true,
        open: Array.from({ length: 400 }, (_, i) => ({
          package: `pkg${i}`,
          installedVersion: '1.0',
          fixedVersion: '1.1',
          cves: Array.from({ length: 30 }, (_, j) => `CVE-2024-${1000 + j}`),
          score: i % 100,
          band: 'medium' as const,
          due: new Date('2025-08-10T00:00:00Z'),
          kev: false,
        })),
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'cve',
        cve: cveRef('CVE-2024-3094'),
        summary: 'xz backdoor',
        cvss: { score: 10, version: '3.1' },
        affectedHosts: 3,
        campaigns: [],
      },
    },
    {
      type: 'status',
      asOf,
      scope: {
        kind: 'advisory',
        id: 'DSA-5764-1',
        cves: [cveRef('CVE-2024-5535', 'Debian:12')],
        affectedHosts: 2,
        campaigns: [
          { changeId: 'x', changeNumber: 42, package: 'openssl', fixedVersion: '3.0.15', state: 'pending' },
        ],
      },
    },
    sampleCoverageView(),
    sampleDigestView(),
  ];

  it.each(contents.map((c) => [c.type, c] as const))('%s renders within limits', (_type, content) => {
    const msg = renderMessage(content);
    expect(violations(msg)).toEqual([]);
  });

  it('help lists every subcommand', () => {
    const msg = renderMessage(patchHelp());
    for (const sub of ['status', 'coverage', 'approve <change>', 'reject <change> [reason]', 'help'])
      expect(msg.text).toContain(`/patch ${sub}`);
  });
});

describe('block helpers', () => {
  it('escapes the mrkdwn control characters', () => {
    expect(esc('a<b>&c')).toBe('a&lt;b&gt;&amp;c');
  });

  it('clips without splitting a surrogate pair', () => {
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
    const s = `ab${'😀'.repeat(3)}`;
    for (let max = 2; max < s.length; max++) {
      const c = clip(s, max);
      expect(c.length).toBeLessThanOrEqual(max);
      expect(c).not.toMatch(/[\uD800-\uDBFF]…$/);
    }
  });

  it('joinWithin stays under the limit and accounts for every item (random lists)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    for (let run = 0; run < 500; run++) {
      const n = Math.floor(rand() * 60);
      const items = Array.from({ length: n }, () => 'w'.repeat(1 + Math.floor(rand() * 120)));
      const max = 40 + Math.floor(rand() * 3000);
      const { text, shown } = joinWithin(items, ', ', max);
      expect(text.length).toBeLessThanOrEqual(max);
      const more = /…and (\d+) more$/.exec(text);
      expect(shown + (more ? Number(more[1]) : 0)).toBe(n);
    }
  });

  it('listSections keeps each block under 3,000 characters and loses no line silently', () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'q'.repeat(i % 97)}`);
    for (const maxBlocks of [1, 2, 5, 49]) {
      const blocks = listSections(lines, maxBlocks);
      expect(blocks.length).toBeLessThanOrEqual(maxBlocks);
      const texts = blocks.map((b) => b.text?.text ?? '');
      for (const t of texts) expect(t.length).toBeLessThanOrEqual(3000);
      const all = texts.join('\n');
      const shown = (all.match(/^line \d+/gm) ?? []).length;
      const more = /…and ([\d,]+) more$/.exec(all);
      expect(shown + Number(more?.[1].replace(/,/g, '') ?? 0)).toBe(3000);
    }
  });
});
