import { describe, expect, it } from 'vitest';
import { renderCampaign } from '../../../src/bot/slack/render.js';
import { renderCard } from '../../../src/bot/teams/index.js';
import { checkReferences } from '../../../src/config/policy-references.js';
import { Policy } from '../../../src/config/policy-schema.js';
import { PatchbotError } from '../../../src/core/errors.js';
import type { ChangeDetail } from '../../../src/db/repositories/change-repository.js';
import { backoutPlan, riskBand } from '../../../src/integrations/itsm/content.js';
import { checkServiceUrl, retryAfterMs } from '../../../src/integrations/itsm/http.js';
import { adf } from '../../../src/integrations/itsm/jira/client.js';
import { changeRisk, glideDateTime } from '../../../src/integrations/itsm/servicenow/sink.js';
import { teamsMessageLink } from '../../../src/integrations/itsm/thread-links.js';
import { itsmRecordViews } from '../../../src/usecases/approvals/view.js';
import { sampleCampaign } from '../../integration/teams/support.js';

describe('Retry-After', () => {
  it('reads seconds and HTTP dates; absent or unreadable is undefined', () => {
    const now = new Date('2026-12-08T00:00:00Z');
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(' 0 ', now)).toBe(0);
    expect(retryAfterMs('Tue, 08 Dec 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('Mon, 07 Dec 2026 23:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('service URLs', () => {
  it('https only; plain http only to loopback when allowed; never credentials in the URL', () => {
    expect(checkServiceUrl('https://example.service-now.com', false, 'x').origin).toBe(
      'https://example.service-now.com',
    );
    for (const [url, allow] of [
      ['http://example.service-now.com', true],
      ['http://127.0.0.1:8080', false],
      ['ftp://example.com', true],
      ['https://user:pw@example.service-now.com', false],
      ['not a url', true],
    ] as const) {
      expect(() => checkServiceUrl(url, allow, 'x'), url).toThrow(PatchbotError);
    }
    expect(checkServiceUrl('http://127.0.0.1:8080', true, 'x').port).toBe('8080');
    expect(checkServiceUrl('http://[::1]:8080', true, 'x').hostname).toBe('[::1]');
  });
});

describe('what a change record says', () => {
  const change = (riskScore: number | null, kev = false) =>
    ({ riskScore, kev, severity: 'high' }) as Pick<ChangeDetail, 'riskScore' | 'kev' | 'severity'>;

  it('an unknown risk score is unknown and high in ServiceNow, never low', () => {
    expect(riskBand(change(null)).band).toBe('unknown');
    expect(changeRisk(change(null) as ChangeDetail)).toBe('2');
    expect(changeRisk(change(95) as ChangeDetail)).toBe('1');
    expect(changeRisk(change(10, true) as ChangeDetail)).toBe('1');
    expect(changeRisk(change(75) as ChangeDetail)).toBe('2');
    expect(changeRisk(change(50) as ChangeDetail)).toBe('3');
    expect(changeRisk(change(5) as ChangeDetail)).toBe('4');
  });

  it('the backout plan says what rollback cannot undo, and whether it is automatic', () => {
    const auto = backoutPlan(Policy.parse({ deployments: { onFailure: 'rollback' } }));
    expect(auto).toContain('rolled back automatically');
    expect(auto).toContain('cannot undo: a reboot already done');
    expect(backoutPlan(Policy.parse({ deployments: { onFailure: 'halt' } }))).toContain('Roll back button');
  });

  it('dates in the Table API format, in UTC', () => {
    expect(glideDateTime(new Date('2026-12-05T02:00:00.123Z'))).toBe('2026-12-05 02:00:00');
  });

  it('ADF: paragraphs, hard breaks and links', () => {
    expect(adf('one\ntwo https://x.test/a\n\nthree')).toEqual({
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'one' },
            { type: 'hardBreak' },
            { type: 'text', text: 'two ' },
            {
              type: 'text',
              text: 'https://x.test/a',
              marks: [{ type: 'link', attrs: { href: 'https://x.test/a' } }],
            },
          ],
        },
        { type: 'paragraph', content: [{ type: 'text', text: 'three' }] },
      ],
    });
  });

  it('the Teams deep link to the message', () => {
    expect(teamsMessageLink('19:abc@thread.tacv2', '1765000000000', 'tenant-1')).toBe(
      'https://teams.microsoft.com/l/message/19%3Aabc%40thread.tacv2/1765000000000?parentMessageId=1765000000000&tenantId=tenant-1',
    );
  });
});

describe('policy', () => {
  it('approval.itsm: required needs ServiceNow; itsm teams must exist', () => {
    const p = Policy.parse({
      teams: [{ name: 'payments' }],
      approval: { itsm: 'required' },
      itsm: { jira: { baseUrl: 'https://x.atlassian.net', project: 'OPS', teams: ['paymnets'] } },
    });
    const issues = checkReferences(p).filter((i) => i.severity === 'error');
    expect(issues.map((i) => i.path.join('.'))).toEqual(
      expect.arrayContaining(['approval.itsm', 'itsm.jira.teams.0']),
    );
    expect(() => Policy.parse({ approval: { itsm: 'instead' } })).toThrow();
    // "only" (the CAB's approval instead of chat approvals) needs ServiceNow too
    const only = checkReferences(
      Policy.parse({ teams: [{ name: 'payments' }], approval: { itsm: 'only' } }),
    ).filter((i) => i.severity === 'error');
    expect(only.map((i) => [i.path.join('.'), i.message])).toEqual([
      [
        'approval.itsm',
        'expected itsm.servicenow (enabled) when approval.itsm is "only": the CAB approves change requests in ServiceNow',
      ],
    ]);
    expect(() =>
      Policy.parse({ itsm: { servicenow: { instanceUrl: 'https://u:p@x.service-now.com' } } }),
    ).toThrow();
    expect(() =>
      Policy.parse({
        itsm: {
          servicenow: {
            instanceUrl: 'https://x.service-now.com',
            auth: { kind: 'basic', passwordEnv: 'pw' },
          },
        },
      }),
    ).toThrow(/environment variable/);
  });
});

describe('the chat message shows the records', () => {
  const link = (over: Partial<Parameters<typeof itsmRecordViews>[0][number]>) => ({
    id: 'l',
    changeRequestId: 'c',
    system: 'servicenow' as const,
    kind: 'change' as const,
    subject: '',
    externalId: 'a'.repeat(32),
    number: 'CHG0031234',
    url: 'https://example.service-now.com/nav_to.do?uri=change_request.do%3Fsys_id%3Daaa',
    state: 'assess',
    approval: null,
    nextPollAt: null,
    pollAttempts: 0,
    approvalCheckedAt: null,
    createdAt: new Date('2026-12-01T00:00:00Z'),
    ...over,
  });

  it('the CAB wait on the ServiceNow change record; incidents after the change records', () => {
    const views = itsmRecordViews(
      [
        link({ kind: 'incident', number: 'INC0010001', createdAt: new Date('2026-12-01T00:00:00Z') }),
        link({ approval: 'requested', createdAt: new Date('2026-12-02T00:00:00Z') }),
      ],
      { status: 'approved' },
    );
    expect(views.map((v) => `${v.system} ${v.kind} ${v.number} ${v.note ?? ''}`.trim())).toEqual([
      'ServiceNow change CHG0031234 waiting for CAB approval',
      'ServiceNow incident INC0010001',
    ]);
    expect(itsmRecordViews([link({ approval: 'rejected' })], { status: 'rejected' })[0]?.note).toBe(
      'CAB rejected',
    );
  });

  it('Slack: a link with the number; Teams: a run that opens the record', () => {
    const itsm = [
      {
        system: 'ServiceNow' as const,
        kind: 'change' as const,
        number: 'CHG0031234',
        url: 'https://example.service-now.com/nav_to.do?uri=change_request.do%3Fsys_id%3Daaa',
        note: 'waiting for CAB approval',
      },
      {
        system: 'Jira' as const,
        kind: 'change' as const,
        number: 'OPS-42',
        url: 'https://example.atlassian.net/browse/OPS-42',
      },
    ];
    const view = sampleCampaign({ itsm });
    const slack = JSON.stringify(renderCampaign(view).blocks);
    expect(slack).toContain(
      '<https://example.service-now.com/nav_to.do?uri=change_request.do%3Fsys_id%3Daaa|ServiceNow CHG0031234> (waiting for CAB approval)',
    );
    expect(slack).toContain('<https://example.atlassian.net/browse/OPS-42|Jira OPS-42>');
    const teams = JSON.stringify(renderCard(view));
    expect(teams).toContain(
      '"text":"ServiceNow CHG0031234","selectAction":{"type":"Action.OpenUrl","url":"https://example.service-now.com/nav_to.do?uri=change_request.do%3Fsys_id%3Daaa"}',
    );
    expect(teams).toContain('(waiting for CAB approval)');
  });
});
