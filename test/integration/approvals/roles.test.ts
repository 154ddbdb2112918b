/**
 * Roles in Slack, through the real Bolt app over signed HTTP: every button, every dialog and every
 * `/patch` command is refused, to the person only and naming the role it needs, to someone without
 * that role, and nothing is recorded; the holders of a role (listed, through a user group, or
 * through a higher role) get through to the action itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CampaignActionKind } from '../../../src/bot/views/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createDigestCommand } from '../../../src/usecases/digest-command.js';
import { createRoleCheck } from '../../../src/usecases/roles.js';
import { createLinkCommand } from '../../../src/usecases/teams-installations.js';
import { CHANNELS, testPolicy } from '../notify/seed.js';
import { startSlackWorld, waitUntil, type Campaign, type SlackWorld } from './support.js';

const VIEWER = 'U0VIEWER001';
const VIEWERS = 'S0VIEWERS01';
const IN_VIEWERS = 'U0INGROUP01'; // a viewer through the user group
const REQUESTER = 'U0REQUEST01';
const ALICE = 'U0ALICE0001'; // approver (role and rule)
const OPERATOR = 'U0OPERATE01';
const ADMIN = 'U0ADMIN0001';
const NOBODY = 'U0NOBODY001';

let w: SlackWorld;
let c: Campaign;

beforeAll(async () => {
  const policy = testPolicy({
    teams: [
      {
        name: 'payments',
        slack: { channels: [CHANNELS.payments] },
        approvers: { production: { slackUsers: [ALICE, OPERATOR] } },
      },
      { name: 'web', slack: { channels: [CHANNELS.web] } },
      { name: 'ops', slack: { channels: [CHANNELS.ops] } },
    ],
    roles: {
      viewer: { slackUsers: [VIEWER], slackUserGroups: [VIEWERS] },
      requester: { slackUsers: [REQUESTER] },
      approver: { slackUsers: [ALICE] },
      operator: { slackUsers: [OPERATOR] },
      admin: { slackUsers: [ADMIN] },
    },
  });
  w = await startSlackWorld('approvals_roles', policy, {
    usergroups: { [VIEWERS]: [IN_VIEWERS] },
    handlers: ({ repos, platforms, groupMembers }) => ({
      roles: createRoleCheck({ policy, groupMembers }),
      digest: createDigestCommand({
        repos,
        policy,
        platforms,
        now: () => new Date(),
        logger: createLogger({ level: 'silent' }),
      }),
      link: createLinkCommand({ repos, policy, now: () => new Date() }),
    }),
  });
  c = await w.campaign();
}, 120_000);

afterAll(async () => {
  await w?.close();
});

const decisions = () => w.db.prisma.decision.count({ where: { changeRequestId: c.id } });

/** Who lacks each button's role (the role right below it), and the role the refusal names. */
const BUTTONS: [CampaignActionKind, string, string][] = [
  ['details', NOBODY, 'viewer'],
  ['request', VIEWER, 'requester'],
  ['approve', REQUESTER, 'approver'],
  ['reject', REQUESTER, 'approver'],
  ['defer', REQUESTER, 'approver'],
  ['accept_risk', REQUESTER, 'approver'],
  ['pause', ALICE, 'operator'],
  ['resume', ALICE, 'operator'],
  ['abort', ALICE, 'operator'],
  ['rollback', ALICE, 'operator'],
];

describe('buttons', () => {
  it.each(BUTTONS)('%s by someone without the role is refused, naming it', async (kind, user, role) => {
    const views = w.fake.views.length;
    const before = await decisions();
    const click = w.click(user, kind, c);
    await w.send([click]);
    const answer = await w.answer(click.responseId ?? '');
    expect(answer).toContain(`You need the ${role} role`);
    expect(answer).toContain(`roles.${role} in the policy file`);
    expect(w.fake.views).toHaveLength(views);
    expect(await decisions()).toBe(before);
  });

  it('lets the holders through: a viewer by group, an approver, and an operator (then the approval rule decides)', async () => {
    const details = w.click(IN_VIEWERS, 'details', c);
    await w.send([details]);
    expect(await w.answer(details.responseId ?? '')).toContain('Decisions:');
    const views = w.fake.views.length;
    await w.send([w.click(ALICE, 'reject', c)]);
    await w.fake.waitFor(() => w.fake.views[views]);
    const pause = w.click(OPERATOR, 'pause', c);
    await w.send([pause]);
    const answer = await w.answer(pause.responseId ?? '');
    expect(answer).not.toContain('role');
    expect(answer).toContain('Deployments are not running in this patchbot');
  });
});

describe('dialogs', () => {
  it.each<
    ['request' | 'reject' | 'defer' | 'accept_risk', Record<string, Record<string, Record<string, unknown>>>]
  >([
    ['request', {}],
    ['reject', { reason: { value: { type: 'plain_text_input', value: 'no' } } }],
    ['defer', { defer: { value: { type: 'radio_buttons', selected_option: { value: '1w' } } } }],
    [
      'accept_risk',
      {
        reason: { value: { type: 'plain_text_input', value: 'isolated' } },
        expires: {
          value: {
            type: 'datepicker',
            selected_date: new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10),
          },
        },
      },
    ],
  ])('a %s dialog submitted by someone without the role is refused', async (kind, values) => {
    const before = w.fake.ephemerals.length;
    await w.send([w.submit(VIEWER, kind, c, values)]);
    const e = await w.fake.waitFor(() => w.fake.ephemerals[before], 15_000);
    expect(e.user).toBe(VIEWER);
    expect(JSON.stringify(e)).toContain(
      kind === 'request' ? 'You need the requester role' : 'You need the approver role',
    );
    expect(await decisions()).toBe(0);
  });
});

describe('/patch commands', () => {
  it.each<[string, string, string]>([
    ['status', NOBODY, 'viewer'],
    ['status pay-1', NOBODY, 'viewer'],
    ['coverage payments', NOBODY, 'viewer'],
    ['request 1', VIEWER, 'requester'],
    ['approve 1', REQUESTER, 'approver'],
    ['reject 1 not now', REQUESTER, 'approver'],
    ['digest payments', ALICE, 'operator'],
    ['link payments', OPERATOR, 'admin'],
  ])('`/patch %s` by someone without the role is refused, naming it', async (text, user, role) => {
    const cmd = w.command(user, text.replace(' 1', ` ${c.number}`));
    await w.send([cmd]);
    expect(await w.answer(cmd.responseId ?? '')).toContain(`You need the ${role} role`);
  });

  it('help needs no role; the holders get their answers (an admin holds every role)', async () => {
    const help = w.command(NOBODY, 'help');
    const res = await fetch(w.url, { method: 'POST', headers: help.headers, body: help.body });
    expect(await res.text()).toContain('/patch status');
    const status = w.command(ADMIN, 'status');
    await w.send([status]);
    expect(await w.answer(status.responseId ?? '')).not.toContain('role');
    const digest = w.command(OPERATOR, 'digest');
    await w.send([digest]);
    expect(await w.answer(digest.responseId ?? '')).toMatch(
      /The weekly digest of payments \(week of .*\) posted/,
    );
    const link = w.command(ADMIN, 'link payments');
    await w.send([link]);
    expect(await w.answer(link.responseId ?? '')).toContain('slack.channels');
    const request = w.command(REQUESTER, `request ${c.number}`);
    await w.send([request]);
    await waitUntil('the request', async () => (await decisions()) === 1);
  });
});
