/**
 * `patchbot changes` through the real CLI against PostgreSQL: list and show what the ledger says,
 * request, approve and reject `--as` a person (the same policy, roles and ledger as chat, audited
 * from the `cli` surface with the login that typed it), exit codes that tell the same truth as the
 * text; and `deploy plan` on a change that does not exist lists the open ones.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { PolicyInput } from '../../../src/config/policy-schema.js';
import { createRepositories, openDatabase, type Database, type Repositories } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { createApprovals } from '../../../src/usecases/approvals/index.js';
import { runCli } from '../../support/cli.js';
import { createTempPostgres, type TempPostgres } from '../../support/db.js';
import {
  applyPolicy,
  CHANNELS,
  OLD_GLIBC,
  saveInventory,
  syncFeeds,
  testPolicy,
  TRACKER,
} from '../notify/seed.js';

const ALICE = 'U0ALICE0001';
const BOB = 'U0BOBBY0002';
const CAROL = 'U0CAROL0003';
const DEV = 'U0DEVELOP01';
const MALLORY = 'U0MALLORY04';

const input: PolicyInput = {
  teams: [
    {
      name: 'payments',
      slack: { channels: [CHANNELS.payments] },
      approvers: { production: { slackUsers: [ALICE, BOB, CAROL] } },
    },
    { name: 'web', slack: { channels: [CHANNELS.web] } },
    { name: 'ops', slack: { channels: [CHANNELS.ops] } },
  ],
  hosts: [
    { name: 'pay-1', address: '10.0.0.11', team: 'payments', criticality: 1 },
    { name: 'pay-2', address: '10.0.0.12', team: 'payments' },
    { name: 'web-1', address: '10.0.0.21', labels: { role: 'web' } },
  ],
  routing: { rules: [{ match: { labels: { role: 'web' } }, team: 'web' }] },
  approval: { rules: [{ name: 'production-two', match: { environments: ['production'] }, quorum: 2 }] },
  roles: {
    requester: { slackUsers: [DEV] },
    approver: { slackUsers: [ALICE, BOB, CAROL] },
    operator: { slackUsers: [ALICE] },
  },
};

const dir = mkdtempSync(join(tmpdir(), 'patchbot-changes-cli-'));
const policyPath = join(dir, 'patchbot.yaml');
writeFileSync(policyPath, stringify(input));

let pg: TempPostgres;
let db: Database;
let repos: Repositories;
let env: NodeJS.ProcessEnv;
const cli = (...args: string[]) => runCli(args, env, dir);
const changes: number[] = [];

beforeAll(async () => {
  pg = await createTempPostgres('changes_cli');
  env = { DATABASE_URL: pg.url, PATCHBOT_CONFIG: policyPath, LOG_LEVEL: 'error' };
  expect((await cli('db', 'migrate')).code).toBe(0);
  db = await openDatabase({ url: pg.url, dataDir: '/nonexistent' });
  repos = createRepositories(db);
  const policy = testPolicy(input);
  await applyPolicy(repos, policy);
  await saveInventory(repos, 'pay-1', OLD_GLIBC);
  await saveInventory(repos, 'pay-2', OLD_GLIBC);
  await syncFeeds(repos, policy, [TRACKER]);
  const approvals = createApprovals({
    repos,
    policy,
    now: () => new Date(),
    logger: createLogger({ level: 'silent' }),
    platforms: () => [],
  });
  const findings = await db.prisma.finding.findMany({ where: { sourcePackage: 'glibc' } });
  for (const v of ['+c1', '+c2', '+c3']) {
    const { changeId } = await approvals.campaigns.upsertCampaign(
      {
        team: 'payments',
        ecosystem: findings[0]?.ecosystem ?? 'Debian:12',
        packageName: 'glibc',
        sourcePackage: 'glibc',
        fixedVersion: `2.36-9+deb12u3${v}`,
        findingIds: findings.map((f) => f.id),
        riskScore: 70,
        severity: 'high',
        kev: false,
      },
      new Date(),
    );
    changes.push((await db.prisma.changeRequest.findUniqueOrThrow({ where: { id: changeId } })).number);
  }
}, 120_000);

afterAll(async () => {
  await db?.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const [A, B, C] = [0, 1, 2].map((i) => () => String(changes[i]));

describe('patchbot changes', () => {
  it('lists the open changes with where their approvals stand, as text and as JSON', async () => {
    const text = await cli('changes', 'list');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`#${A()}\\s+pending\\s+payments\\s+glibc → 2\\.36-9\\+deb12u3\\+c1.*0/2 approvals`),
    );
    const json = await cli('changes', 'list', '--format', 'json');
    const parsed = JSON.parse(json.stdout) as {
      changes: { number: number; status: string; quorum: number }[];
    };
    expect(parsed.changes.map((c) => c.number).sort()).toEqual([...changes].sort());
    expect(parsed.changes.every((c) => c.status === 'pending' && c.quorum === 2)).toBe(true);
  });

  it('records a request --as a person, from the cli surface with the login that typed it', async () => {
    const run = await cli('changes', 'request', A(), '--as', ALICE, '--reason', 'before the audit');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`Rollout of #${A()} requested by ${ALICE} \\(cli:`));
    const d = await db.prisma.decision.findFirstOrThrow({ where: { kind: 'request' } });
    expect(d).toMatchObject({ actorId: ALICE, surface: 'cli', reason: 'before the audit' });
    const audit = await db.prisma.auditLog.findFirstOrThrow({ where: { action: 'decision.request' } });
    expect(audit.surface).toBe('cli');
    expect(audit.actorDisplay).toMatch(new RegExp(`^${ALICE} \\(cli:.+\\)$`));
  });

  it("refuses the requester's own approval, and approvals by people without the approver role, exit 1", async () => {
    const own = await cli('changes', 'approve', A(), '--as', ALICE);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain('You requested this change, so you cannot approve it');
    const dev = await cli('changes', 'approve', A(), '--as', DEV);
    expect(dev.code).toBe(1);
    expect(dev.stderr).toContain('You need the approver role to approve a change');
    const anon = await cli('changes', 'approve', A());
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain('You need the approver role');
    expect(await db.prisma.decision.count({ where: { kind: 'approve' } })).toBe(0);
  });

  it('approves with two approvers; the second says it is approved, in text and JSON', async () => {
    expect((await cli('changes', 'approve', A(), '--as', BOB)).stdout).toContain('(1 of 2)');
    const again = await cli('changes', 'approve', A(), '--as', BOB, '--format', 'json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'duplicate' });
    const second = await cli('changes', 'approve', A(), '--as', CAROL, '--format', 'json');
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      outcome: 'recorded',
      approved: true,
      change: { status: 'approved' },
    });
    const show = await cli('changes', 'show', A());
    expect(show.stdout).toContain('status     approved (round 1)');
    expect(show.stdout).toMatch(/rule production-two: 2 of 2/);
    expect(show.stdout).toContain(`requested  by ${ALICE} (cli:`);
    expect(show.stdout).toMatch(/request\s+U0ALICE0001 \(cli:.*\(cli, round 1\): before the audit/);
  });

  it('rejects with a reason; without one it is a usage error', async () => {
    const noReason = await cli('changes', 'reject', B(), '--as', ALICE);
    expect(noReason.code).not.toBe(0);
    expect(noReason.stderr).toContain("required option '--reason <text>'");
    const run = await cli('changes', 'reject', B(), '--as', ALICE, '--reason', 'breaks the HSM driver');
    expect(run.code).toBe(0);
    expect((await db.prisma.changeRequest.findFirstOrThrow({ where: { number: changes[1] } })).status).toBe(
      'rejected',
    );
    const after = await cli('changes', 'approve', B(), '--as', BOB);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain('This change is rejected');
  });

  it('applies the roles to --as: a request by someone without the requester role is refused', async () => {
    const run = await cli('changes', 'request', C(), '--as', MALLORY);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'You need the requester role to request a rollout (roles.requester in the policy file)',
    );
  });

  it('lists every change with --status all, and only open ones by default', async () => {
    const open = await cli('changes', 'list', '--format', 'json');
    expect(
      (JSON.parse(open.stdout) as { changes: { number: number }[] }).changes.map((c) => c.number),
    ).not.toContain(changes[1]);
    const all = await cli('changes', 'list', '--status', 'all', '--format', 'json');
    expect(
      (JSON.parse(all.stdout) as { changes: { number: number }[] }).changes.map((c) => c.number),
    ).toContain(changes[1]);
  });
});

describe('deploy plan on a change that does not exist', () => {
  it('says so and lists the open changes', async () => {
    const run = await cli('deploy', 'plan', '99999');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('change 99999 does not exist; open changes:');
    expect(run.stderr).toContain(`#${C()} pending payments glibc`);
    expect(run.stderr).toContain(`#${A()} approved payments glibc`);
    expect(run.stderr).not.toContain(`#${B()} `);
  });
});
