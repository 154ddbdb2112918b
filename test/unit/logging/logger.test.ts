import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactSecrets, redactUrl } from '../../../src/logging/logger.js';

/** A logger writing JSON lines into memory. pino writes synchronously to a plain Writable. */
function memoryLogger(level = 'trace') {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level, destination });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

const SECRETS = {
  dbPassword: 'Tr0ub4dor&3',
  redisPassword: 'r3dis-pass',
  bot: 'xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx',
  user: 'xoxp-1234567890-0987654321-1111111111-abcdef0123456789',
  app: 'xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef',
  bearer: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl',
};

describe('redactUrl', () => {
  it.each([
    ['postgresql://patchbot:s3cret@db:5432/patchbot', 'postgresql://patchbot:***@db:5432/patchbot'],
    ['postgres://u:p%40ss@[::1]/x?sslmode=require', 'postgres://u:***@[::1]/x?sslmode=require'],
    ['redis://:s3cret@127.0.0.1:6379/0', 'redis://:***@127.0.0.1:6379/0'],
    ['https://user@example.com/path', 'https://user@example.com/path'],
    ['https://api.example.com/x?token=abc123&page=2', 'https://api.example.com/x?token=***&page=2'],
    ['https://h/x?a=1&client_secret=zzz', 'https://h/x?a=1&client_secret=***'],
    ['postgresql://localhost/patchbot', 'postgresql://localhost/patchbot'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('removes every Slack token kind and bearer tokens from free text', () => {
    const text = `bot ${SECRETS.bot} user ${SECRETS.user} app ${SECRETS.app} header Authorization: Bearer ${SECRETS.bearer}`;
    const out = redactSecrets(text);
    for (const s of [SECRETS.bot, SECRETS.user, SECRETS.app, SECRETS.bearer]) expect(out).not.toContain(s);
    expect(out).toContain('xoxb-***');
    expect(out).toContain('xapp-***');
    expect(out).toContain('Bearer ***');
  });

  it('leaves ordinary text alone', () => {
    const text = 'installed openssl 3.0.15-1~deb12u1 on web-1: ok (ratio 1:2, key=value)';
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('createLogger', () => {
  it('writes JSON lines with level, time and message', () => {
    const { logger, records } = memoryLogger();
    logger.info({ host: 'web-1', count: 3 }, 'inventory collected');
    const [r] = records();
    expect(r).toMatchObject({ level: 30, host: 'web-1', count: 3, msg: 'inventory collected' });
    expect(typeof r?.time).toBe('string');
  });

  it('never writes a password in a URL or a Slack token, wherever it is', () => {
    const { logger, lines } = memoryLogger();
    const dbUrl = `postgresql://patchbot:${SECRETS.dbPassword}@db.internal:5432/patchbot`;
    const redisUrl = `redis://:${SECRETS.redisPassword}@127.0.0.1:6379`;

    logger.info({ databaseUrl: dbUrl }, 'connecting');
    logger.info(`connecting to ${redisUrl}`);
    logger.info('posting with %s', SECRETS.bot);
    logger.warn({ request: { headers: { authorization: `Bearer ${SECRETS.bearer}` } } }, 'retrying');
    logger.debug(
      {
        slack: { token: SECRETS.user, appToken: SECRETS.app },
        nested: { deeper: { note: `used ${SECRETS.bot}` } },
      },
      'slack config',
    );
    logger.info({ list: [dbUrl, { password: 'plain-password' }] }, 'list');
    logger.error(new Error(`connect ECONNREFUSED ${dbUrl}`));
    logger.error({ err: new Error(`slack said invalid_auth for ${SECRETS.bot}`) }, 'slack failed');
    logger.child({ component: 'redis', url: redisUrl, signingSecret: 'abcdef0123456789' }).info('child line');
    logger.info(
      { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=', cookie: 'sid=abc' },
      'keys',
    );

    const all = lines.join('\n');
    expect(lines).toHaveLength(10);
    for (const secret of [
      ...Object.values(SECRETS),
      'plain-password',
      'abcdef0123456789',
      'BEGIN OPENSSH',
      'sid=abc',
    ]) {
      expect(all, secret).not.toContain(secret);
    }
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]?.databaseUrl).toBe('postgresql://patchbot:***@db.internal:5432/patchbot');
    expect(records[1]?.msg).toBe('connecting to redis://:***@127.0.0.1:6379');
    expect(records[2]?.msg).toBe('posting with xoxb-***');
    expect(records[6]?.msg).toBe('connect ECONNREFUSED postgresql://patchbot:***@db.internal:5432/patchbot');
    expect((records[6]?.err as { stack: string }).stack).toContain('patchbot:***@db.internal');
    expect(records[8]).toMatchObject({
      component: 'redis',
      url: 'redis://:***@127.0.0.1:6379',
      signingSecret: '***',
    });
    expect(records[9]).toMatchObject({ privateKey: '***', cookie: '***' });
  });

  it('respects the level', () => {
    const { logger, lines } = memoryLogger('warn');
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['shown']);
  });

  it('pretty output is readable text and still redacted', () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(String(chunk));
        cb();
      },
    });
    const logger = createLogger({ level: 'info', pretty: true, destination });
    logger.info({ url: `postgresql://u:${SECRETS.dbPassword}@h/db` }, `token ${SECRETS.bot}`);
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        const text = chunks.join('');
        expect(text).toContain('INFO');
        expect(text).not.toMatch(/^\{/);
        expect(text).toContain('token xoxb-***');
        expect(text).not.toContain(SECRETS.dbPassword);
        resolve();
      });
    });
  });
});
