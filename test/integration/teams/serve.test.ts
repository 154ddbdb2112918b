/**
 * `patchbot serve` with Teams configured, as a real process (node bin/patchbot.js) against a temp
 * PostgreSQL database and Redis: POST /api/messages is routed to the Teams edge, refuses requests
 * without a valid Bot Framework token (checked against TEAMS_OPENID_METADATA_URL, the local key
 * server), stores an installation sent with one; TEAMS_DEV_NO_AUTH warns loudly and lets requests
 * in without a token; an app id without a password refuses to start, saying why.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../../src/db/index.js';
import { BotFrameworkKeys } from '../../support/bot-framework-keys.js';
import { createTempDir, createTempPostgres, type TempDir, type TempPostgres } from '../../support/db.js';
import { spawnPatchbot, waitForLine, type Proc } from '../../support/process.js';
import { APP_ID, botMembership, WEB_CHAT } from './support.js';

const SERVICE_URL = 'https://smba.trafficmanager.net/emea/';

let pg: TempPostgres;
let tmp: TempDir;
let db: Database;
let keys: BotFrameworkKeys;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  pg = await createTempPostgres('teams-serve');
  tmp = await createTempDir('teams-serve');
  db = await openDatabase({ url: pg.url, dataDir: tmp.dir });
  await db.migrate();
  keys = await BotFrameworkKeys.start();
  const policyFile = path.join(tmp.dir, 'patchbot.yaml');
  await writeFile(
    policyFile,
    stringify({ teams: [{ name: 'web', msteams: { conversations: [WEB_CHAT] } }] }),
  );
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: pg.url,
    PATCHBOT_CONFIG: policyFile,
    PATCHBOT_QUEUE_PREFIX: `pbtest-${randomBytes(4).toString('hex')}`,
    TEAMS_APP_ID: APP_ID,
    TEAMS_APP_PASSWORD: 'client-secret-of-the-test-app',
    TEAMS_OPENID_METADATA_URL: keys.metadataUrl,
    LOG_LEVEL: 'info',
  };
}, 60_000);

afterAll(async () => {
  await db?.close();
  await keys?.close();
  await pg?.drop();
  await tmp?.remove();
});

const chatInstall = () =>
  botMembership(
    { serviceUrl: SERVICE_URL, conversationId: WEB_CHAT, conversationType: 'groupChat' },
    'added',
  );

async function post(base: string, activity: Record<string, unknown>, authorization?: string) {
  return fetch(`${base}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(activity),
  });
}

describe('patchbot serve with Teams', () => {
  let proc: Proc;
  let base: string;

  beforeAll(async () => {
    proc = spawnPatchbot(['serve', '--port', '0', '--host', '127.0.0.1', '--no-worker'], env, tmp.dir);
    const m = await waitForLine(
      proc,
      /"port":(\d+)[^\n]*"teams":"\/api\/messages"[^\n]*patchbot serve is up/,
    );
    base = `http://127.0.0.1:${m[1]}`;
  }, 40_000);

  afterAll(async () => {
    if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
    await proc.exited;
  });

  it('refuses /api/messages without a token, and stores nothing', async () => {
    const res = await post(base, chatInstall());
    expect(res.status).toBe(401);
    expect(await db.prisma.chatDestination.count({ where: { platform: 'teams' } })).toBe(0);
  });

  it('stores and maps an installation that carries a valid token', async () => {
    const res = await post(base, chatInstall(), keys.bearer({ aud: APP_ID, serviceUrl: SERVICE_URL }));
    expect(res.status).toBe(200);
    const row = await db.prisma.chatDestination.findUniqueOrThrow({
      where: { platform_channelId: { platform: 'teams', channelId: WEB_CHAT } },
      include: { team: true },
    });
    expect(row.team?.name).toBe('web');
    expect(row.serviceUrl).toBe(SERVICE_URL);
  });

  it('still serves /healthz and answers 404 elsewhere', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/slack/events`, { method: 'POST' })).status).toBe(404);
  });

  it('stops cleanly', async () => {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.stderr()).not.toMatch(/unhandled/i);
  }, 20_000);
});

describe('TEAMS_DEV_NO_AUTH', () => {
  it('warns loudly at start-up and accepts requests without a token', async () => {
    await db.prisma.chatDestination.deleteMany({ where: { platform: 'teams' } });
    const proc = spawnPatchbot(
      ['serve', '--port', '0', '--host', '127.0.0.1', '--no-worker'],
      { ...env, TEAMS_APP_PASSWORD: '', TEAMS_DEV_NO_AUTH: '1' },
      tmp.dir,
    );
    try {
      const m = await waitForLine(proc, /"port":(\d+)[^\n]*patchbot serve is up/);
      expect(proc.stderr()).toMatch(/"level":40[^\n]*TEAMS_DEV_NO_AUTH IS ON/);
      const res = await post(`http://127.0.0.1:${m[1]}`, chatInstall());
      expect(res.status).toBe(200);
      expect(
        await db.prisma.chatDestination.count({ where: { platform: 'teams', channelId: WEB_CHAT } }),
      ).toBe(1);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  }, 40_000);
});

describe('configuration errors', () => {
  it('refuses to start with an app id but no password, naming the variable', async () => {
    const proc = spawnPatchbot(
      ['serve', '--port', '0', '--host', '127.0.0.1'],
      { ...env, TEAMS_APP_PASSWORD: '' },
      tmp.dir,
    );
    expect(await proc.exited).not.toBe(0);
    expect(proc.stderr()).toMatch(/TEAMS_APP_PASSWORD/);
    expect(proc.stderr()).not.toMatch(/unhandled|UnhandledPromiseRejection/i);
  }, 40_000);
});
