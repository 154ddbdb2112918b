import { describe, expect, it } from 'vitest';
import { LIMITS, type KnownBlock } from '../../../src/bot/slack/blocks.js';
import { campaignButtons, renderMessage, slackMention } from '../../../src/bot/slack/render.js';
import type { DeploymentProgressView } from '../../../src/bot/views/index.js';

const at = new Date('2026-12-05T01:00:00Z');

function progress(overrides: Partial<DeploymentProgressView> = {}): DeploymentProgressView {
  return {
    type: 'deployment-progress',
    changeId: '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21',
    changeNumber: 42,
    deployment: 3,
    tone: 'error',
    text: 'Deployment #3 halted in ring 2/3 (pilot): ring pilot: 2 of 5 host(s) failed, over the failure budget of 1.',
    at,
    ...overrides,
  };
}

const texts = (blocks: KnownBlock[]): string[] =>
  blocks.flatMap((b) => {
    const any = b as unknown as { text?: { text: string }; elements?: { text: string }[] };
    return [any.text?.text ?? '', ...(any.elements ?? []).map((e) => e.text)];
  });

describe('deployment progress replies', () => {
  it('puts the mentions first, so the notification is for the approvers', () => {
    const msg = renderMessage(
      progress({
        mentions: [
          { platform: 'slack', kind: 'user', id: 'U0ALICE001', name: 'alice' },
          { platform: 'slack', kind: 'group', id: 'S0APPROVERS' },
          { platform: 'teams', kind: 'user', id: '5f1c0c8e-aaaa-bbbb-cccc-1234567890ab', name: 'Bob Teams' },
          { platform: 'slack', kind: 'user', id: 'U0ALICE001' },
        ],
      }),
    );
    expect(msg.text).toMatch(/^<@U0ALICE001> <!subteam\^S0APPROVERS> Bob Teams Deployment #3 halted/);
    expect(texts(msg.blocks)[0]).toMatch(
      /^:octagonal_sign: <@U0ALICE001> <!subteam\^S0APPROVERS> Bob Teams /,
    );
  });

  it.each([
    [{ platform: 'slack', kind: 'user', id: 'U0ALICE001' }, '<@U0ALICE001>'],
    [{ platform: 'slack', kind: 'group', id: 'S0GROUP01' }, '<!subteam^S0GROUP01>'],
    [{ platform: 'slack', kind: 'user', id: '!channel' }, undefined],
    [{ platform: 'slack', kind: 'group', id: 'U0ALICE001', name: '<!here>' }, '&lt;!here&gt;'],
    [{ platform: 'teams', kind: 'user', id: 'aad-id' }, undefined],
  ] as const)('renders %j as %j', (mention, expected) => {
    expect(slackMention(mention)).toBe(expected);
  });

  it('shows each failure with its host and error lines in a code block, escaped', () => {
    const msg = renderMessage(
      progress({
        hosts: [
          {
            host: 'web-2',
            outcome: 'failed',
            detail: 'health check failed: svc exited with 1\n<!channel> ```oops```',
          },
          { host: 'web-1', outcome: 'rolled_back', detail: 'restored openssl 3.0.11-1~deb12u1' },
        ],
        detail: 'Press Roll back to restore the hosts it changed.',
      }),
    );
    const all = texts(msg.blocks).join('\n');
    expect(all).toContain(
      ":x: *web-2* failed\n```health check failed: svc exited with 1\n&lt;!channel&gt; '''oops'''```",
    );
    expect(all).toContain(':rewind: *web-1* rolled back: restored openssl 3.0.11-1~deb12u1');
    expect(all).toContain('Press Roll back to restore the hosts it changed.');
    expect(all).toContain('Deployment #3 · change #42 · <!date^');
    expect(all).not.toContain('<!channel>');
  });

  it('stays within Slack limits for a 200-host ring', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => ({
      host: `host-${String(i).padStart(3, '0')}.example.internal`,
      outcome: 'rollback_failed' as const,
      detail: `cannot restore openssl: version 3.0.11-1~deb12u1 is no longer offered\n${'x'.repeat(500)}`,
    }));
    const msg = renderMessage(progress({ hosts }));
    expect(msg.blocks.length).toBeLessThanOrEqual(LIMITS.blocksPerMessage);
    for (const t of texts(msg.blocks)) expect(t.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(texts(msg.blocks).join('\n')).toMatch(/…and \d+ more/);
  });

  it('asks for confirmation before Abort and Roll back, not before Pause or Resume', () => {
    const buttons = campaignButtons({
      changeId: 'c1',
      actions: ['resume', 'pause', 'abort', 'rollback', 'details'],
    });
    expect(buttons.map((b) => [b.action_id, b.confirm?.title?.text ?? null, b.style ?? null])).toEqual([
      ['patch_deploy_resume', null, null],
      ['patch_deploy_pause', null, null],
      ['patch_deploy_abort', 'Abort the deployment?', 'danger'],
      ['patch_deploy_rollback', 'Roll back the deployment?', 'danger'],
      ['patch_details', null, null],
    ]);
    for (const b of buttons) {
      if (!b.confirm) continue;
      expect(b.confirm.text.text.length).toBeLessThanOrEqual(300);
      expect(b.confirm.confirm?.text.length).toBeLessThanOrEqual(30);
    }
  });
});
