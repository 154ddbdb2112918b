import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseSettings } from '../../../src/cli/commands/db.js';
import { describePostgresUrl, pgFailureReason, redactUrl } from '../../../src/db/client.js';

describe('redactUrl', () => {
  it.each([
    ['postgresql://bob:s3cret@db:5432/patchbot', 'postgresql://bob:***@db:5432/patchbot'],
    ['postgresql://bob@db/patchbot', 'postgresql://bob@db/patchbot'],
    [
      'postgres://u:p%40ss@h/d?sslmode=require&password=x',
      'postgres://u:***@h/d?sslmode=require&password=***',
    ],
    ['postgresql://:only@h/d', 'postgresql://:***@h/d'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('never returns the password, even for a URL it cannot parse', () => {
    expect(redactUrl('postgresql://u:pa ss@[bad/x')).not.toContain('pa ss');
  });
});

describe('describePostgresUrl', () => {
  it.each([
    ['postgresql://postgres@127.0.0.1:5432/test', 'PostgreSQL at 127.0.0.1:5432 (database test)'],
    ['postgresql://bob:secret@db.internal/patchbot', 'PostgreSQL at db.internal:5432 (database patchbot)'],
    ['postgresql://bob@db.internal', 'PostgreSQL at db.internal:5432 (database bob)'],
  ])('%s', (url, expected) => {
    expect(describePostgresUrl(url)).toBe(expected);
  });
});

describe('pgFailureReason', () => {
  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' }, 'connection refused'],
    [{ code: '3D000', message: 'database "x" does not exist' }, 'database does not exist'],
    [{ code: '28P01', message: 'password authentication failed' }, 'authentication failed'],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db' }, 'host not found'],
    [{ code: 'XX000', message: 'something else' }, 'something else'],
  ])('%o', (err, expected) => {
    expect(pgFailureReason(err)).toBe(expected);
  });
});

describe('databaseSettings', () => {
  it.each([
    [{}, undefined, '/srv/.patchbot/db'],
    [{ PATCHBOT_DATA_DIR: '/var/lib/patchbot' }, undefined, '/var/lib/patchbot/db'],
    [{ PATCHBOT_DATA_DIR: 'data', DATABASE_URL: 'postgresql://h/d' }, 'postgresql://h/d', '/srv/data/db'],
    [{ DATABASE_URL: '  ' }, undefined, '/srv/.patchbot/db'],
  ])('%o', (env, url, dir) => {
    expect(databaseSettings(env, '/srv')).toEqual({ url, embeddedDir: path.resolve(dir) });
  });

  it('refuses a DATABASE_URL that is not PostgreSQL, naming the variable', () => {
    expect(() => databaseSettings({ DATABASE_URL: 'mysql://h/d' }, '/srv')).toThrow(
      /^DATABASE_URL: expected a PostgreSQL URL/,
    );
  });
});
