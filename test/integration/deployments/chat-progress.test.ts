/**
 * Deployments reporting into chat: the production deployment services (engine, BullMQ worker, SSH to
 * real sshd hosts, chat progress, the DeploymentPort the approval use case calls) with a real
 * SlackPoster posting to the fake Slack Web API. The campaign message is edited as the deployment
 * moves (chat.update), its thread gets ring-by-ring replies, a halt names the failing host with its
 * error lines and mentions the approvers, the rollback result is reported, and the campaign
 * buttons' controls (pause, resume, abort) act through the port.
 */
import type { Worker } from 'bullmq';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError, PolicyDeniedError } from '../../../src/core/errors.js';
import { FakeSlackWebApi, type StoredMessage } from '../../fakes/slack-web-api.js';
import { openTestDatabase, type TestDatabase } from '../../support/db.js';
import { startFleet, type Fleet } from '../../support/fleet-hosts.js';
import { sshdAvailable } from '../../support/sshd.js';
import { createChatHarness, messageText, type ChatHarness } from './chat-support.js';
import { registerFleet, reposOf, seedChange, testPolicy, TestClock, waitFor, type Repos } from './support.js';

const OLD = '3.0.11-1~deb12u1';
const NEW = '3.0.13-1~deb12u1';
const ALICE = { id: 'U0ALICE001', display: 'alice', surface: 'slack' as const };
const HOSTS = ['chat-1', 'chat-2', 'chat-3', 'chat-4'];

const spec = (name: string) => ({
  name,
  installed: [
    { name: 'openssl', version: OLD, source: 'openssl' },
    { name: 'libssl3', version: OLD, source: 'openssl' },
  ],
  available: [
    { name: 'openssl', version: OLD },
    { name: 'libssl3', version: OLD },
    { name: 'openssl', version: NEW },
    { name: 'libssl3', version: NEW },
  ],
});

let fleet: Fleet;
let test: TestDatabase;
let repos: Repos;
let fake: FakeSlackWebApi;
let harness: ChatHarness | undefined;
let workers: Worker[] = [];

beforeAll(async () => {
  fleet = await startFleet(HOSTS.map(spec), { first: 141 });
  test = await openTestDatabase('postgres', 'deploychat');
  repos = reposOf(test.db);
  await registerFleet(repos, fleet, {
    'chat-1': { ring: 'canary' },
    'chat-2': { ring: 'pilot' },
    'chat-3': { ring: 'broad' },
    'chat-4': { ring: 'broad' },
  });
  fake = await FakeSlackWebApi.start();
}, 60_000);

afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  workers = [];
  await harness?.close();
  harness = undefined;
  await fleet.reset();
});

afterAll(async () => {
  await fake?.close();
  await fleet?.stop();
  await test?.dispose();
});

/** The thread replies under a message, oldest first. */
const repliesTo = (ts: string): StoredMessage[] => fake.messages.filter((m) => m.threadTs === ts);

/**
 * Waits for a reply (the engine tells chat after it stored the state a test waits for), then for
 * the edits still queued.
 */
async function replied(ts: string, re: RegExp): Promise<StoredMessage> {
  const m = await fake.waitFor(() => repliesTo(ts).find((r) => re.test(r.text ?? '')), 30_000);
  await harness?.services.progress.flush();
  return m;
}

/** The state line and buttons of every edit of the message, oldest first. */
function editsOf(ts: string): { state: string; buttons: string[]; blocks: unknown[] }[] {
  return fake
    .callsTo('chat.update')
    .filter((c) => c.params.ts === ts && c.error === undefined)
    .map((c) => {
      const blocks = (c.params.blocks ?? []) as {
        type: string;
        text?: { text?: string };
        elements?: { action_id?: string }[];
      }[];
      const dividerAt = blocks.findIndex((b) => b.type === 'divider');
      return {
        state: blocks[dividerAt + 1]?.text?.text ?? '',
        buttons: blocks.find((b) => b.type === 'actions')?.elements?.map((e) => e.action_id ?? '') ?? [],
        blocks,
      };
    });
}

async function approve(changeId: string): Promise<void> {
  await test.db.prisma.decision.create({
    data: {
      changeRequestId: changeId,
      kind: 'approve',
      actorId: ALICE.id,
      actorDisplay: 'alice',
      surface: 'slack',
    },
  });
}

const failingRingPolicy = () =>
  testPolicy(fleet, {
    rings: [{ name: 'all', concurrency: 1, failureBudget: 0 }],
    deployments: {
      sudo: true,
      reboot: { policy: 'never' },
      retry: { attempts: 0, backoff: '1s' },
      onFailure: 'rollback',
      healthChecks: [{ name: 'svc', command: ['healthcheck'], retries: 0, interval: '1s', timeout: '5s' }],
    },
  });

describe.runIf(sshdAvailable() && process.getuid?.() === 0)('deployment progress in chat', () => {
  it('edits the campaign message and replies ring by ring through a three-ring rollout', async () => {
    const clock = new TestClock(new Date());
    const policy = testPolicy(fleet, {
      rings: [
        { name: 'canary', match: { labels: { ring: 'canary' } }, soak: '1h' },
        { name: 'pilot', match: { labels: { ring: 'pilot' } }, soak: '30m' },
        { name: 'broad', concurrency: 2 },
      ],
    });
    harness = await createChatHarness({ db: test.db, repos, policy, clock, fake });
    workers.push(harness.startWorker());
    const change = await seedChange(test.db, {
      hosts: fleet.hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const root = await harness.messenger.post(change.id);

    const { summary } = await harness.services.port.approved(change.id, ALICE);
    const dep = (await repos.deployments.activeForChange(change.id))[0];
    if (!dep) throw new Error('no deployment');
    const n = dep.number;
    expect(summary).toBe(`Deployment #${n} scheduled: 3 rings, 4 hosts, first ring starts now.`);

    // the clock moves only once the ring's reply is out (it names the end of the soak)
    await waitFor(
      'canary passed',
      async () => (await repos.deployments.get(dep.id)).state.status === 'soaking',
    );
    await replied(root.id, /^Ring 1\/3 \(canary\) passed/);
    clock.advance(60 * 60_000);
    await waitFor('pilot passed', async () => {
      const d = await repos.deployments.get(dep.id);
      return d.state.status === 'soaking' && d.state.ring === 1;
    });
    await replied(root.id, /^Ring 2\/3 \(pilot\) passed/);
    clock.advance(30 * 60_000);
    await waitFor(
      'completed',
      async () => (await repos.deployments.get(dep.id)).state.status === 'completed',
    );
    await replied(root.id, /^Deployment #\d+ done/);

    const soak = /at \d{4}-\d\d-\d\d \d\d:\d\d UTC\./;
    const replies = repliesTo(root.id).map((m) => m.text);
    expect(replies).toEqual([
      'Ring 1/3 (canary) started: 1 host.',
      expect.stringMatching(
        new RegExp(
          `^Ring 1/3 \\(canary\\) passed: 1 succeeded, 0 failed, 0 skipped\\. Ring 2/3 starts after the soak, ${soak.source}$`,
        ),
      ),
      'Ring 2/3 (pilot) started: 1 host.',
      expect.stringMatching(
        new RegExp(
          `^Ring 2/3 \\(pilot\\) passed: 1 succeeded, 0 failed, 0 skipped\\. Ring 3/3 starts after the soak, ${soak.source}$`,
        ),
      ),
      'Ring 3/3 (broad) started: 2 hosts.',
      'Ring 3/3 (broad) passed: 2 succeeded, 0 failed, 0 skipped.',
      `Deployment #${n} done: 4 hosts patched, 0 failed within the failure budget, 0 skipped.`,
    ]);

    // the message's state line follows the deployment ring by ring and ends done, without controls
    const states = editsOf(root.id).map((e) => e.state);
    const firstOf = (re: RegExp) => states.findIndex((s) => re.test(s));
    const ring1 = firstOf(/\*Deploying\* \(deployment #\d+\) ring 1\/3 \(canary\)/);
    const soaking = firstOf(/ring 1\/3 \(canary\), 1 of 4 hosts done; next ring after the soak/);
    const ring2 = firstOf(/\*Deploying\* \(deployment #\d+\) ring 2\/3 \(pilot\)/);
    const ring3 = firstOf(/\*Deploying\* \(deployment #\d+\) ring 3\/3 \(broad\)/);
    const done = firstOf(/\*Done\* \(deployment #\d+\) .*: 4 hosts patched/);
    expect([ring1, soaking, ring2, ring3, done].every((i) => i >= 0)).toBe(true);
    expect(ring1 < soaking && soaking < ring2 && ring2 < ring3 && ring3 < done).toBe(true);
    expect(states.at(-1)).toMatch(/\*Done\*/);
    const edits = editsOf(root.id);
    expect(edits[ring2]?.buttons).toEqual(['patch_deploy_pause', 'patch_deploy_abort', 'patch_details']);
    expect(edits.at(-1)?.buttons).toEqual(['patch_details']);
  }, 120_000);

  it('reports a halt with the failing host and its error, mentions the approvers, and the rollback result', async () => {
    const clock = new TestClock(new Date());
    harness = await createChatHarness({
      db: test.db,
      repos,
      policy: failingRingPolicy(),
      clock,
      fake,
      approvers: () => Promise.resolve([{ platform: 'slack', kind: 'group', id: 'S0APPROVERS' }]),
    });
    workers.push(harness.startWorker());
    const hosts = ['chat-1', 'chat-2', 'chat-3'].map((name) => fleet.host(name));
    const change = await seedChange(test.db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    await approve(change.id);
    const root = await harness.messenger.post(change.id);
    await harness.services.port.approved(change.id, ALICE);
    const dep = (await repos.deployments.activeForChange(change.id))[0];
    if (!dep) throw new Error('no deployment');
    const order = (await repos.deployments.detail(dep.id)).rings[0]?.hosts.map((h) => h.hostName) ?? [];
    const failing = order[1] ?? '';
    await fleet.host(failing).setUnhealthy(true);
    await waitFor(
      'rolled back',
      async () => (await repos.deployments.get(dep.id)).state.status === 'rolled_back',
      60_000,
    );
    await replied(root.id, /^Rollback of deployment/);

    const replies = repliesTo(root.id);
    const failure = replies.find((m) => m.text?.startsWith('Ring 1/1 (all): '));
    expect(failure?.text).toBe(`Ring 1/1 (all): ${failing} failed in step health check.`);
    expect(messageText(failure ?? {})).toContain('health check failed: svc');

    const halt = replies.find((m) => /halted/.test(m.text ?? ''));
    expect(halt?.text).toBe(
      `<@U0ALICE001> <!subteam^S0APPROVERS> Deployment #${dep.number} halted in ring 1/1 (all): ring all: 1 of 3 host(s) failed, over the failure budget of 0.`,
    );
    const haltText = messageText(halt ?? {});
    expect(haltText).toContain(`*${failing}* failed`);
    expect(haltText).toMatch(/```[^`]*health check failed: svc[^`]*```/);
    expect(haltText).toContain('are being rolled back to their previous versions');

    const rollback = replies.find((m) => /^Rollback of deployment/.test(m.text ?? ''));
    expect(rollback?.text).toBe(
      `Rollback of deployment #${dep.number} finished: 2 hosts restored to the versions they had before.`,
    );
    const rollbackText = messageText(rollback ?? {});
    expect(rollbackText).toContain(`*${order[0]}* rolled back: restored libssl3 ${OLD}, openssl ${OLD}`);
    expect(rollbackText).toContain(`*${failing}* rolled back`);
    expect(rollbackText).toContain(`*${order[2]}* unchanged: nothing was installed on this host`);
    // one reply per event: no reply per host that succeeded
    expect(replies.map((m) => m.text?.replace(/#\d+/, '#N').slice(0, 30))).toEqual([
      'Ring 1/1 (all) started: 3 host',
      `Ring 1/1 (all): ${failing} failed in`.slice(0, 30),
      '<@U0ALICE001> <!subteam^S0APPR',
      'Rollback of deployment #N fini',
    ]);

    const states = editsOf(root.id).map((e) => e.state);
    expect(states.at(-1)).toMatch(
      /^:x: \*Failed\* \(deployment #\d+\) .*: rolled back: 2 host\(s\) have their previous versions again/,
    );
    expect(editsOf(root.id).at(-1)?.buttons).toEqual(['patch_details']);
  }, 120_000);

  it('says plainly which host could not be rolled back, mentions the approvers and offers Roll back again', async () => {
    const clock = new TestClock(new Date());
    harness = await createChatHarness({ db: test.db, repos, policy: failingRingPolicy(), clock, fake });
    workers.push(harness.startWorker());
    const host = fleet.host('chat-4');
    await host.setUnhealthy(true);
    const change = await seedChange(test.db, {
      hosts: [host],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    await approve(change.id);
    const root = await harness.messenger.post(change.id);
    await harness.services.port.approved(change.id, ALICE);
    // the repository drops the old versions while the deployment runs
    await waitFor('install', async () => (await host.installLog()).length === 1);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${host.stateDir}/available`, `openssl\t${NEW}\nlibssl3\t${NEW}\n`);
    const dep = (await repos.deployments.latestForChange(change.id)) ?? { id: '', number: 0 };
    await waitFor(
      'rollback failed',
      async () => (await repos.deployments.get(dep.id)).state.status === 'rollback_failed',
      60_000,
    );
    await replied(root.id, /Rollback of deployment #\d+ could not/);

    const reply = repliesTo(root.id).find((m) => /^<@U0ALICE001> Rollback/.test(m.text ?? ''));
    expect(reply?.text).toBe(
      `<@U0ALICE001> Rollback of deployment #${dep.number} could not restore every host: chat-4 could not be rolled back (0 restored).`,
    );
    const text = messageText(reply ?? {});
    expect(text).toContain('*chat-4* could not be rolled back');
    expect(text).toMatch(/cannot restore (openssl|libssl3): [^`]*no longer offered/);
    expect(text).toContain('restore them by hand, or press Roll back to try again');
    const last = editsOf(root.id).at(-1);
    expect(last?.state).toMatch(/\*Failed\* .*the rollback could not restore 1 host/);
    expect(last?.buttons).toEqual(['patch_deploy_rollback', 'patch_details']);
    const button = (
      last?.blocks.find((b) => (b as { type: string }).type === 'actions') as {
        elements: { action_id: string; confirm?: { title: { text: string } } }[];
      }
    ).elements[0];
    expect(button?.confirm?.title.text).toBe('Roll back the deployment?');
  }, 120_000);

  it('pauses, resumes and aborts through the port, and the message offers the controls its state allows', async () => {
    // 00:00 UTC; the hosts' window opens at 02:00 UTC, so nothing runs while the test presses buttons
    const clock = new TestClock(new Date('2026-11-24T00:00:00Z'));
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 2 }],
      maintenanceWindows: [{ name: 'night', schedule: 'daily 02:00-03:00', timeZone: 'Europe/Berlin' }],
    });
    harness = await createChatHarness({ db: test.db, repos, policy, clock, fake });
    workers.push(harness.startWorker());
    const hosts = [fleet.host('chat-1'), fleet.host('chat-2')];
    const change = await seedChange(test.db, {
      hosts,
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
    });
    const root = await harness.messenger.post(change.id);
    const port = harness.services.port;

    const { summary } = await port.approved(change.id, ALICE);
    const dep = (await repos.deployments.activeForChange(change.id))[0];
    if (!dep) throw new Error('no deployment');
    const n = dep.number;
    expect(summary).toBe(
      `Deployment #${n} scheduled: 1 ring, 2 hosts, first ring at 2026-11-24 02:00 Europe/Berlin.`,
    );
    await harness.services.progress.flush();
    let last = editsOf(root.id).at(-1);
    expect(last?.state).toMatch(
      /^:calendar: \*Scheduled\* \(deployment #\d+\) for <!date\^\d+\^.*\(window night\)$/,
    );
    expect(last?.buttons).toEqual(['patch_deploy_pause', 'patch_deploy_abort', 'patch_details']);

    expect((await port.control(change.id, 'pause', ALICE)).message).toMatch(/^Deployment #\d+ paused/);
    await harness.services.progress.flush();
    last = editsOf(root.id).at(-1);
    expect(last?.state).toMatch(
      /^:double_vertical_bar: \*Paused\* \(deployment #\d+\) .*press Resume to go on/,
    );
    expect(last?.buttons).toEqual([
      'patch_deploy_resume',
      'patch_deploy_abort',
      'patch_deploy_rollback',
      'patch_details',
    ]);

    expect((await port.control(change.id, 'resume', ALICE)).message).toBe(
      `Deployment #${n} resumed (waiting window).`,
    );
    await harness.services.progress.flush();
    expect(editsOf(root.id).at(-1)?.state).toMatch(/\*Scheduled\*/);

    expect((await port.control(change.id, 'abort', ALICE)).message).toMatch(/^Deployment #\d+ aborted/);
    await harness.services.progress.flush();
    last = editsOf(root.id).at(-1);
    expect(last?.state).toMatch(/\*Failed\* .*aborted before any host was changed/);
    expect(last?.buttons).toEqual(['patch_details']);

    const nothing = port.control(change.id, 'pause', ALICE);
    await expect(nothing).rejects.toBeInstanceOf(NotFoundError);
    await expect(nothing).rejects.toThrow(`change #${change.number} has no deployment under way to pause`);
    // the approval use case writes the port's answers into the thread; progress does not repeat them
    expect(repliesTo(root.id)).toEqual([]);
    for (const h of hosts) expect(await h.installLog()).toEqual([]);
    const audit = await repos.audit.list({ subjectType: 'deployment', subjectId: dep.id });
    expect(audit.filter((a) => a.actor === ALICE.id).map((a) => a.action)).toEqual(
      expect.arrayContaining([
        'deployment.scheduled',
        'deployment.pause',
        'deployment.resume',
        'deployment.abort',
      ]),
    );
  }, 60_000);

  it('uses the emergency lane only for a change that asks for it and that the policy allows', async () => {
    const clock = new TestClock(new Date('2026-11-24T00:00:00Z'));
    const policy = testPolicy(fleet, {
      rings: [{ name: 'all', concurrency: 2 }],
      maintenanceWindows: [{ name: 'night', schedule: 'daily 02:00-03:00', timeZone: 'UTC' }],
      approval: { emergency: { enabled: true, when: [{ kev: true }] } },
    });
    harness = await createChatHarness({ db: test.db, repos, policy, clock, fake });
    const port = harness.services.port;
    const seed = async (kev: boolean) => {
      const change = await seedChange(test.db, {
        hosts: [fleet.host('chat-3')],
        packageName: 'openssl',
        installedVersion: OLD,
        fixedVersion: NEW,
        kev,
      });
      await test.db.prisma.changeRequest.update({ where: { id: change.id }, data: { emergency: true } });
      await harness?.messenger.post(change.id);
      return change;
    };
    const kev = await seed(true);
    expect((await port.approved(kev.id, ALICE)).summary).toMatch(
      /^Deployment #\d+ scheduled \(emergency lane: hosts do not wait for their maintenance windows\): 1 ring, 1 host, first ring starts now\.$/,
    );
    await port.control(kev.id, 'abort', ALICE);

    const plain = await seed(false);
    expect((await port.approved(plain.id, ALICE)).summary).toMatch(
      /^Deployment #\d+ scheduled: 1 ring, 1 host, first ring at 2026-11-24 02:00 UTC\. Normal lane: change #\d+ does not meet the emergency lane's conditions/,
    );
    await port.control(plain.id, 'abort', ALICE);
  }, 60_000);

  it('refuses to schedule a change that is not approved, and has nothing to control then', async () => {
    const clock = new TestClock(new Date());
    harness = await createChatHarness({ db: test.db, repos, policy: testPolicy(fleet), clock, fake });
    const change = await seedChange(test.db, {
      hosts: [fleet.host('chat-1')],
      packageName: 'openssl',
      installedVersion: OLD,
      fixedVersion: NEW,
      status: 'pending',
    });
    const scheduling = harness.services.port.approved(change.id, ALICE);
    await expect(scheduling).rejects.toBeInstanceOf(PolicyDeniedError);
    await expect(scheduling).rejects.toThrow(
      `change #${change.number} is pending, not approved: only an approved change can be deployed`,
    );
    expect(await repos.deployments.latestForChange(change.id)).toBeUndefined();
    await expect(harness.services.port.control(change.id, 'rollback', ALICE)).rejects.toThrow(
      `change #${change.number} has no deployment to roll back`,
    );
    await expect(harness.services.port.control(change.id, 'resume', ALICE)).rejects.toThrow(
      `change #${change.number} has no deployment under way to resume`,
    );
  }, 30_000);
});
