/**
 * Socket Mode (SLACK_APP_TOKEN set): the app opens a WebSocket through apps.connections.open and
 * answers envelopes on it. A local WebSocket server (the `ws` package Slack's own client uses)
 * plays Slack's side; the fake Web API hands out its URL.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackApp, type SlackEdge } from '../../../src/bot/slack/app.js';
import type { CommandInput } from '../../../src/bot/handlers.js';
import { createLogger } from '../../../src/logging/logger.js';
import { FakeSlackWebApi } from '../../fakes/slack-web-api.js';

interface WsSocket extends EventEmitter {
  send(data: string): void;
}
interface WsServer extends EventEmitter {
  address(): { port: number };
  close(cb?: () => void): void;
}
const require = createRequire(import.meta.url);
const ws = require('ws') as { Server: new (o: { port: number; host: string }) => WsServer };

let wss: WsServer;
let fake: FakeSlackWebApi;
let edge: SlackEdge;
let socket: WsSocket | undefined;
const received: { envelope_id: string; payload?: Record<string, unknown> }[] = [];
const commands: CommandInput[] = [];

beforeAll(async () => {
  wss = new ws.Server({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (s: WsSocket) => {
    socket = s;
    s.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake' },
        connection_info: { app_id: 'A0PATCHBOT1' },
      }),
    );
    s.on('message', (m: unknown) => received.push(JSON.parse(String(m)) as (typeof received)[number]));
  });
  fake = await FakeSlackWebApi.start({ tokens: ['xoxb-test-token', 'xapp-1-A0PATCHBOT1-test'] });
  fake.socketModeUrl = `ws://127.0.0.1:${wss.address().port}/`;
  edge = await createSlackApp({
    token: 'xoxb-test-token',
    appToken: 'xapp-1-A0PATCHBOT1-test',
    apiUrl: fake.apiUrl,
    logger: createLogger({ level: 'silent' }),
    handlers: {
      onAction: () => Promise.resolve({ type: 'done' }),
      onViewSubmission: () => Promise.resolve({}),
      onCommand: (input) => {
        commands.push(input);
        return Promise.resolve();
      },
    },
  });
  await edge.start();
});

afterAll(async () => {
  await edge?.stop();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await fake?.close();
});

const waitFor = async <T>(f: () => T | undefined): Promise<T> => {
  for (let i = 0; i < 200; i++) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('timed out');
};

describe('Socket Mode', () => {
  it('connects without an HTTP listener and acks a slash command envelope', async () => {
    expect(edge.mode).toBe('socket');
    expect(edge.requestListener).toBeUndefined();
    const s = await waitFor(() => socket);
    const payload = (text: string) => ({
      command: '/patch',
      text,
      user_id: 'U03CAROL003',
      channel_id: 'C05PAYMENTS1',
      team_id: 'T0FAKE0001',
      response_url: fake.responseUrl(),
    });
    s.send(
      JSON.stringify({
        envelope_id: 'env-1',
        type: 'slash_commands',
        accepts_response_payload: true,
        payload: payload('bogus'),
      }),
    );
    const help = await waitFor(() => received.find((r) => r.envelope_id === 'env-1'));
    expect(String(help.payload?.text)).toContain('/patch status');
    s.send(
      JSON.stringify({
        envelope_id: 'env-2',
        type: 'slash_commands',
        accepts_response_payload: true,
        payload: payload('status'),
      }),
    );
    await waitFor(() => received.find((r) => r.envelope_id === 'env-2'));
    const c = await waitFor(() => commands[0]);
    expect(c.command).toEqual({ kind: 'status' });
  });
});
