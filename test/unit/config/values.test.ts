import { createHash, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HostKeyFingerprint,
  TimeZone,
  closest,
  hostKeySha256Hex,
  isTimeZone,
  parseDuration,
  parseRecurringWindow,
  parseWeekday,
} from '../../../src/config/values.js';

/** OpenSSH's fingerprint of an ed25519 public key: SHA256 of the wire blob, base64 without padding. */
function opensshEd25519(): { fingerprint: string; blobSha256Hex: string } {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]);
  const digest = createHash('sha256').update(blob).digest();
  return {
    fingerprint: `SHA256:${digest.toString('base64').replace(/=+$/, '')}`,
    blobSha256Hex: digest.toString('hex'),
  };
}

describe('host key fingerprints', () => {
  it('accepts real OpenSSH fingerprints and gives the sha256 hex a host verifier compares', () => {
    for (let i = 0; i < 20; i++) {
      const { fingerprint, blobSha256Hex } = opensshEd25519();
      expect(HostKeyFingerprint.safeParse(fingerprint).success).toBe(true);
      expect(hostKeySha256Hex(fingerprint)).toBe(blobSha256Hex);
      expect(hostKeySha256Hex(`${fingerprint}=`)).toBe(blobSha256Hex);
    }
  });

  it.each([
    'SHA256:abc',
    'sha256:k1+IiDYuua1FFYERo7cAw5geMny6omdVylBpa1YobIc',
    'k1+IiDYuua1FFYERo7cAw5geMny6omdVylBpa1YobIc',
    'SHA256:k1+IiDYuua1FFYERo7cAw5geMny6omdVylBpa1YobI',
    'SHA256:k1+IiDYuua1FFYERo7cAw5geMny6omdVylBpa1YobIc!',
    'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48',
  ])('refuses %s', (fp) => {
    expect(HostKeyFingerprint.safeParse(fp).success).toBe(false);
  });
});

describe('time zones', () => {
  it('accepts every zone the runtime lists, and UTC', () => {
    for (const tz of [...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC'])
      expect(isTimeZone(tz), tz).toBe(true);
  });

  it.each(['Mars/Olympus', 'Europe/Berln', '+01:00', 'CEST ', '', 'Europe/../etc'])('refuses %j', (tz) => {
    expect(TimeZone.safeParse(tz).success).toBe(false);
  });
});

describe('durations', () => {
  it.each([
    ['0', 0],
    ['90s', 90_000],
    ['30m', 30 * 60_000],
    ['2h', 2 * 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 90 * 60_000],
    ['1d2h3m4s', ((26 * 60 + 3) * 60 + 4) * 1000],
  ])('%s = %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '2 hours', '1.5h', '-5m', 'h', '30', '2h1d', '5ms'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('recurring windows', () => {
  it.each([
    ['Tue 02:00-04:00', [2], { hour: 2, minute: 0 }, 120],
    ['tuesday 2:30-3:00', [2], { hour: 2, minute: 30 }, 30],
    ['Mon-Fri 22:00-02:00', [1, 2, 3, 4, 5], { hour: 22, minute: 0 }, 240],
    ['Fri-Mon 23:00-24:00', [0, 1, 5, 6], { hour: 23, minute: 0 }, 60],
    ['Sat,Sun 01:00-05:00', [0, 6], { hour: 1, minute: 0 }, 240],
    ['daily 03:00-04:00', [0, 1, 2, 3, 4, 5, 6], { hour: 3, minute: 0 }, 60],
    ['weekdays 00:00-23:59', [1, 2, 3, 4, 5], { hour: 0, minute: 0 }, 1439],
  ])('%s', (spec, days, start, durationMinutes) => {
    expect(parseRecurringWindow(spec)).toEqual({ spec, days, start, durationMinutes });
  });

  it.each([
    'Tue',
    'Tue 02:00',
    'Tue 02:00-02:00',
    'Tue 25:00-26:00',
    'Blursday 02:00-04:00',
    'Tue 2-4',
    'Mon-Tue-Wed 01:00-02:00',
  ])('refuses %j', (spec) => {
    expect(parseRecurringWindow(spec)).toBeUndefined();
  });

  it('weekday numbers follow Date#getDay', () => {
    const names = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
    for (let d = 0; d < 7; d++) {
      const date = new Date(Date.UTC(2025, 0, 5 + d)); // 2025-01-05 is a Sunday
      const name = names[date.getUTCDay()];
      expect(parseWeekday(name)).toBe(d);
      expect(parseWeekday(name.slice(0, 3).toUpperCase())).toBe(d);
    }
  });
});

describe('suggestions', () => {
  it.each([
    ['chanels', ['channels', 'name'], 'channels'],
    ['qourum', ['quorum', 'approvers'], 'quorum'],
    ['Europe/Berln', ['Europe/Berlin', 'Europe/Bern'], 'Europe/Berlin'],
    ['zzzzzz', ['teams', 'hosts'], undefined],
  ])('%s -> %s', (word, candidates, expected) => {
    expect(closest(word, candidates)).toBe(expected);
  });
});
