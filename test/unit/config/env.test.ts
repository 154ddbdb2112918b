import { describe, expect, it } from 'vitest';
import { checkEnv, formatEnvIssue, loadEnv } from '../../../src/config/env.js';
import { ConfigError } from '../../../src/core/errors.js';

const SLACK_OK = {
  SLACK_BOT_TOKEN: 'xoxb-1111-2222-abcdef',
  SLACK_SIGNING_SECRET: '8f742231b10e8888abcd99yyyzzz85a5',
};
const APP_ID = '7876c2dc-8d14-44ca-be94-368610e90b2e';

describe('loadEnv', () => {
  it('defaults with an empty environment', () => {
    expect(loadEnv({})).toEqual({
      databaseUrl: undefined,
      dataDir: '.patchbot',
      redisUrl: 'redis://127.0.0.1:6379',
      port: 3000,
      queuePrefix: undefined,
      policyPath: './patchbot.yaml',
      policyPathExplicit: false,
      logLevel: 'info',
      sshAuthSock: undefined,
      shutdownGraceMs: 600_000,
      slack: undefined,
      msteams: undefined,
    });
  });

  it('reads the shutdown grace period as a duration and names a bad one', () => {
    expect(loadEnv({ PATCHBOT_SHUTDOWN_GRACE: '90s' }).shutdownGraceMs).toBe(90_000);
    expect(loadEnv({ PATCHBOT_SHUTDOWN_GRACE: '1h30m' }).shutdownGraceMs).toBe(5_400_000);
    expect(() => loadEnv({ PATCHBOT_SHUTDOWN_GRACE: 'soon' })).toThrow(
      /PATCHBOT_SHUTDOWN_GRACE: expected a duration such as 10m or 90s, got "soon"/,
    );
  });

  it('treats empty variables as unset', () => {
    expect(loadEnv({ DATABASE_URL: '', PORT: '', SLACK_BOT_TOKEN: '' })).toEqual(loadEnv({}));
  });

  it('reads and groups every variable', () => {
    const env = loadEnv({
      DATABASE_URL: 'postgresql://patchbot:pw@127.0.0.1:5432/patchbot',
      PATCHBOT_DATA_DIR: '/var/lib/patchbot',
      REDIS_URL: 'rediss://:pw@redis.internal:6380/2',
      PORT: '8080',
      PATCHBOT_CONFIG: '/etc/patchbot/patchbot.yaml',
      ...SLACK_OK,
      SLACK_APP_TOKEN: 'xapp-1-A111-222-abc',
      SLACK_API_URL: 'https://slack-gov.com/api',
      TEAMS_APP_ID: APP_ID,
      TEAMS_APP_PASSWORD: 'p@ss',
      TEAMS_TENANT_ID: 'e35cea71-f33e-4b45-8086-ec0f637381db',
      TEAMS_DEV_NO_AUTH: 'false',
      LOG_LEVEL: 'debug',
      UNRELATED: 'ignored',
    });
    expect(env.databaseUrl).toBe('postgresql://patchbot:pw@127.0.0.1:5432/patchbot');
    expect(env.port).toBe(8080);
    expect(env.policyPathExplicit).toBe(true);
    expect(env.slack).toEqual({
      botToken: SLACK_OK.SLACK_BOT_TOKEN,
      signingSecret: SLACK_OK.SLACK_SIGNING_SECRET,
      appToken: 'xapp-1-A111-222-abc',
      apiUrl: 'https://slack-gov.com/api/',
    });
    expect(env.msteams).toEqual({
      appId: APP_ID,
      appPassword: 'p@ss',
      tenantId: 'e35cea71-f33e-4b45-8086-ec0f637381db',
      devNoAuth: false,
      graphUrl: 'https://graph.microsoft.com/',
    });
    expect(env.logLevel).toBe('debug');
  });

  it('accepts Socket Mode without a signing secret, and Teams without a password only in dev mode', () => {
    expect(loadEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' }).slack?.appToken).toBe('xapp-1');
    expect(loadEnv({ TEAMS_APP_ID: APP_ID, TEAMS_DEV_NO_AUTH: '1' }).msteams?.devNoAuth).toBe(true);
  });

  it('takes the Microsoft Graph URL of a national cloud, with a trailing slash', () => {
    expect(
      loadEnv({
        TEAMS_APP_ID: APP_ID,
        TEAMS_APP_PASSWORD: 'p',
        TEAMS_GRAPH_URL: 'https://graph.microsoft.us',
      }).msteams?.graphUrl,
    ).toBe('https://graph.microsoft.us/');
  });

  // [variables, variable named, words the message must contain, words it must NOT contain]
  const bad: [Record<string, string>, string, string[], string[]][] = [
    [
      { DATABASE_URL: 'mysql://root:hunter2@db/patchbot' },
      'DATABASE_URL',
      ['expected a PostgreSQL URL', 'mysql://root:***@db/patchbot'],
      ['hunter2'],
    ],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL', ['expected a PostgreSQL URL', 'got "not a url"'], []],
    [
      { REDIS_URL: 'http://127.0.0.1:6379' },
      'REDIS_URL',
      ['expected a Redis URL', 'got "http://127.0.0.1:6379"'],
      [],
    ],
    [{ PORT: '0' }, 'PORT', ['expected a port number 1-65535', 'got "0"'], []],
    [{ PORT: '65536' }, 'PORT', ['expected a port number 1-65535', 'got "65536"'], []],
    [{ PORT: 'http' }, 'PORT', ['expected a port number 1-65535', 'got "http"'], []],
    [
      { SLACK_BOT_TOKEN: 'xoxp-user-token-123', SLACK_SIGNING_SECRET: 'abcdefgh12' },
      'SLACK_BOT_TOKEN',
      ['expected a Slack bot token (xoxb-...)', '19 characters (hidden)'],
      ['xoxp-user'],
    ],
    [
      { ...SLACK_OK, SLACK_APP_TOKEN: 'xoxb-wrong-kind' },
      'SLACK_APP_TOKEN',
      ['expected a Slack app-level token (xapp-...)', '(hidden)'],
      ['xoxb-wrong'],
    ],
    [
      { SLACK_BOT_TOKEN: 'xoxb-1' },
      'SLACK_SIGNING_SECRET',
      ['SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode)'],
      [],
    ],
    [{ SLACK_SIGNING_SECRET: 'abcdefgh12' }, 'SLACK_BOT_TOKEN', ['expected SLACK_BOT_TOKEN'], ['abcdefgh12']],
    [
      { ...SLACK_OK, SLACK_API_URL: 'slack.com/api' },
      'SLACK_API_URL',
      ['expected an http(s) URL', 'got "slack.com/api"'],
      [],
    ],
    [{ TEAMS_APP_ID: 'my-bot' }, 'TEAMS_APP_ID', ['expected the bot app id (a GUID)', 'got "my-bot"'], []],
    [
      { TEAMS_APP_ID: APP_ID },
      'TEAMS_APP_PASSWORD',
      ['expected TEAMS_APP_PASSWORD', 'TEAMS_DEV_NO_AUTH=1'],
      [],
    ],
    [
      { TEAMS_APP_ID: APP_ID, TEAMS_APP_PASSWORD: 'pw', TEAMS_TENANT_ID: 'contoso' },
      'TEAMS_TENANT_ID',
      ['expected the Entra tenant id', 'got "contoso"'],
      [],
    ],
    [{ TEAMS_APP_PASSWORD: 's3cret-pw' }, 'TEAMS_APP_ID', ['expected TEAMS_APP_ID'], ['s3cret-pw']],
    [
      { TEAMS_APP_ID: APP_ID, TEAMS_DEV_NO_AUTH: 'maybe' },
      'TEAMS_DEV_NO_AUTH',
      ['expected 1/true/yes or 0/false/no', 'got "maybe"'],
      [],
    ],
    [
      { LOG_LEVEL: 'verbose' },
      'LOG_LEVEL',
      ['expected one of fatal, error, warn, info, debug, trace, silent', 'got "verbose"'],
      [],
    ],
  ];

  it.each(bad)('%j is refused naming %s', (vars, variable, words, hidden) => {
    const { env, errors } = checkEnv(vars);
    expect(env).toBeUndefined();
    const issue = errors.find((e) => e.variable === variable);
    expect(issue, JSON.stringify(errors)).toBeDefined();
    const text = formatEnvIssue(issue!);
    expect(text.startsWith(`${variable}: `)).toBe(true);
    for (const w of words) expect(text).toContain(w);
    for (const h of hidden) expect(errors.map(formatEnvIssue).join('\n')).not.toContain(h);
  });

  it('throws a ConfigError listing every bad variable', () => {
    let caught: unknown;
    try {
      loadEnv({ PORT: 'x', LOG_LEVEL: 'loud', SLACK_BOT_TOKEN: 'xoxb-secretvalue' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as ConfigError).userMessage;
    expect(message).toContain('PORT:');
    expect(message).toContain('LOG_LEVEL:');
    expect(message).toContain('SLACK_SIGNING_SECRET:');
    expect(message).not.toContain('secretvalue');
  });
});
