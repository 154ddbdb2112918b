/**
 * `patchbot report coverage` (text, JSON, CSV parsed with csv-parse) and `patchbot digest --now`
 * through the real CLI, and `/patch coverage` through the real Bolt app over signed HTTP answering
 * with the same numbers as `report coverage --format json`. The history is ../metrics/seed.ts,
 * seeded relative to the real clock (the CLI reads it).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChatHandlers } from '../../../src/bot/handlers/index.js';
import { createSlackApp, type SlackEdge } from '../../../src/bot/slack/app.js';
import { Policy } from '../../../src/config/policy-schema.js';
import type { Headline, ScopeMetrics } from '../../../src/core/metrics/definitions.js';
import { formatDays, formatPercent, formatValue } from '../../../src/core/metrics/format.js';
import { createRepositories, openDatabase, type Database } from '../../../src/db/index.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';
import { runCli } from '../../support/cli.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { parsePng } from '../../support/png.js';
import {
  postToSlackApp,
  signedHeaders,
  slashCommandBody,
  TEST_SIGNING_SECRET,
} from '../../support/slack-signing.js';
import { seedHistory } from '../metrics/seed.js';

const logger = createLogger({ level: 'silent' });
const CH = { payments: 'C0PAYMENTS1', web: 'C0WEBTEAM01' };
const policyFile = {
  teams: [
    { name: 'payments', slack: { channels: [CH.payments] }, digest: { timeZone: 'Europe/Berlin' } },
    { name: 'web', slack: { channels: [CH.web] } },
  ],
  reporting: { coverageThreshold: 'high', expiringSoonDays: 14 },
};

interface ReportJson {
  scope: { kind: string; name: string };
  weekStart: string;
  metrics: ScopeMetrics;
  headlines: Headline[];
  breakdown: { kind: string; rows: { name: string; metrics: ScopeMetrics }[] }[];
}

let pg: TempPostgres;
let tmp: TempDir;
let db: Database;
let fake: FakeSlackWebApi;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  pg = await createTempPostgres('report');
  tmp = await createTempDir('report');
  db = await openDatabase({ url: pg.url, dataDir: tmp.dir });
  await db.migrate();
  await seedHistory(db, new Date());
  const file = path.join(tmp.dir, 'patchbot.yaml');
  await writeFile(file, stringify(policyFile));
  fake = await FakeSlackWebApi.start();
  env = {
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: file,
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
    SLACK_API_URL: fake.apiUrl,
  };
}, 60_000);

afterAll(async () => {
  await db?.close();
  await fake?.close();
  await pg?.drop();
  await tmp?.remove();
});

async function reportJson(args: string[] = []): Promise<ReportJson> {
  const run = await runCli(['report', 'coverage', ...args, '--format', 'json'], env, tmp.dir);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as ReportJson;
}

describe('patchbot report coverage', () => {
  it('prints the team`s numbers as JSON', async () => {
    const r = await reportJson(['--team', 'payments']);
    expect(r.scope).toEqual({ kind: 'team', name: 'payments' });
    expect(r.metrics.hosts).toEqual({
      total: 3,
      covered: 1,
      coverage: 1 / 3,
      states: { covered: 1, atRisk: 1, neverScanned: 1, inventoryStale: 0, noAdvisories: 0, unreachable: 0 },
      rebootRequired: 1,
      inventoried: 2,
    });
    expect(r.metrics.sla.overall).toEqual({ due: 4, met: 1, compliance: 0.25 });
    expect(r.metrics.remediation.overall).toEqual({ fixed: 3, meanDays: 9.67, p90Days: 14 });
    expect(r.metrics.open.byAge).toEqual({ lt7: 1, d7to30: 1, d30to90: 1, ge90: 1 });
    expect(r.breakdown.map((b) => b.kind)).toEqual(['environment', 'group']);
  });

  it('prints one CSV row per scope that a CSV parser reads back', async () => {
    const run = await runCli(['report', 'coverage', '--format', 'csv'], env, tmp.dir);
    expect(run.code).toBe(0);
    const rows = parse<Record<string, string>>(run.stdout, { columns: true, skip_empty_lines: true });
    expect(rows.map((r) => [r.kind, r.name])).toEqual([
      ['fleet', ''],
      ['team', 'payments'],
      ['team', 'web'],
      ['team', '(no team)'],
      ['environment', 'development'],
      ['environment', 'production'],
      ['environment', 'staging'],
      ['group', 'db'],
      ['group', 'dmz'],
    ]);
    const fleet = rows[0] ?? {};
    expect(fleet).toMatchObject({
      scope: 'fleet',
      hosts: '5',
      hosts_covered: '2',
      coverage: '0.4',
      hosts_at_risk: '2',
      hosts_never_scanned: '1',
      hosts_inventory_stale: '0',
      hosts_no_advisories: '0',
      hosts_unreachable: '0',
      open: '6',
      open_critical: '1',
      open_high: '2',
      kev_overdue: '1',
      sla_compliance: '0.25',
      mttr_p90_days: '14',
      deployment_success_rate: String(2 / 3),
      accepted_risks: '2',
      accepted_risks_expiring: '1',
    });
    // Undefined ratios are empty fields.
    expect(rows.find((r) => r.name === 'web')?.sla_compliance).toBe('');
    expect(rows.find((r) => r.name === 'dmz')).toMatchObject({ hosts: '2', hosts_covered: '0' });
  });

  it('prints text a person reads, and names an unknown team', async () => {
    const run = await runCli(['report', 'coverage', '--team', 'payments'], env, tmp.dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'Host coverage 33.3% (1 of 3 hosts): assessed, with no open finding at high risk or above',
    );
    expect(run.stdout).toContain('  assessed 2 of 3 hosts · at risk 1 · never scanned 1');
    expect(run.stdout).toMatch(/SLA compliance, last 30 days: 25\.0% \(1\/4\)/);
    const bad = await runCli(['report', 'coverage', '--team', 'paymnts'], env, tmp.dir);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('no team named "paymnts"');
  });
});

describe('/patch coverage over the Bolt app', () => {
  let edge: SlackEdge;
  let url: string;

  beforeAll(async () => {
    const repos = createRepositories(db);
    const refuse = () => Promise.reject(new Error('not an approval test'));
    edge = await createSlackApp({
      token: 'xoxb-test-token',
      signingSecret: TEST_SIGNING_SECRET,
      apiUrl: fake.apiUrl,
      logger,
      handlers: createChatHandlers({
        approvals: { onAction: refuse, onViewSubmission: refuse, onCommand: refuse },
        status: { repos, policy: Policy.parse(policyFile), logger },
      }),
    });
    const { port } = await edge.start({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${port}/slack/events`;
  });

  afterAll(async () => {
    await edge?.stop();
  });

  async function ask(text: string): Promise<{ text: string; blocks: string }> {
    const responseUrl = fake.responseUrl();
    const id = responseUrl.split('/').pop();
    const body = slashCommandBody({ userId: 'U0ALICE001', text, channelId: CH.payments, responseUrl });
    const ack = await postToSlackApp(url, body, signedHeaders(TEST_SIGNING_SECRET, body));
    expect(ack.status).toBe(200);
    const answer = await fake.waitFor(() => fake.responses.find((r) => r.id === id), 20_000);
    return { text: String(answer.body.text), blocks: JSON.stringify(answer.body.blocks) };
  }

  it('answers with the numbers `report coverage --format json` prints', async () => {
    for (const team of ['payments', undefined]) {
      const slack = await ask(team === undefined ? 'coverage' : `coverage ${team}`);
      const cli = await reportJson(team === undefined ? [] : ['--team', team]);
      const m = cli.metrics;
      expect(slack.text).toContain(
        `${formatPercent(m.hosts.coverage)} (${m.hosts.covered}/${m.hosts.total} hosts), ${m.open.overdue} SLA breaches, ${m.kev.overdue} KEV overdue`,
      );
      for (const h of cli.headlines) {
        expect(slack.blocks).toContain(
          JSON.stringify(`*${h.label}*\n${formatValue(h.value, h.unit)}`).slice(1, -1),
        );
      }
      expect(slack.blocks).toContain(`(${m.sla.overall.met}/${m.sla.overall.due} fixed by their due date)`);
      expect(slack.blocks).toContain(
        `mean ${formatDays(m.remediation.overall.meanDays)}, p90 ${formatDays(m.remediation.overall.p90Days)}`,
      );
      for (const b of cli.breakdown)
        for (const row of b.rows)
          expect(slack.blocks).toContain(
            `*${row.name}*: coverage ${formatPercent(row.metrics.hosts.coverage)} (${row.metrics.hosts.covered}/${row.metrics.hosts.total})`,
          );
    }
  });

  it('names an unknown team', async () => {
    const answer = await ask('coverage nosuchteam');
    expect(answer.text).toContain('no team named "nosuchteam"');
  });
});

describe('patchbot digest --now', () => {
  it('posts the digest with its chart once per week', async () => {
    const run = await runCli(['digest', '--now', '--team', 'payments'], env, tmp.dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^PostgreSQL at 127\.0\.0\.1:5432 \(database \S+\)\npayments \(week of \d{4}-\d{2}-\d{2}\): posted to slack:C0PAYMENTS1 with its chart; verdict: Action required\n$/,
    );
    const top = fake.messages.filter((m) => m.channel === CH.payments && !m.threadTs);
    expect(top).toHaveLength(1);
    expect(fake.callsTo('files.completeUploadExternal')).toHaveLength(1);
    const file = fake.files.find((f) => f.channel === CH.payments);
    expect(file?.threadTs).toBe(top[0]?.ts);
    expect(parsePng(file?.bytes ?? new Uint8Array())).toMatchObject({ width: 960, height: 480 });

    const again = await runCli(['digest', '--now', '--format', 'json'], env, tmp.dir);
    expect(again.code).toBe(0);
    const results = (JSON.parse(again.stdout) as { results: { team: string; outcome: string }[] }).results;
    expect(results.map((r) => [r.team, r.outcome])).toEqual([
      ['payments', 'already-posted'],
      ['web', 'posted'],
    ]);
    expect(fake.messages.filter((m) => m.channel === CH.payments && !m.threadTs)).toHaveLength(1);
  }, 30_000);

  it('needs --now', async () => {
    const run = await runCli(['digest', '--team', 'payments'], env, tmp.dir);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("required option '--now' not specified");
  });
});
