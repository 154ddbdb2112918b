import { describe, expect, it } from 'vitest';
import { parsePatchCommand, type PatchCommand } from '../../../src/bot/commands.js';

const cases: [string, PatchCommand | { kind: 'unknown' }][] = [
  ['', { kind: 'help' }],
  ['   ', { kind: 'help' }],
  ['help', { kind: 'help' }],
  ['HELP', { kind: 'help' }],
  ['status', { kind: 'status' }],
  ['  Status  ', { kind: 'status' }],
  ['status web-1.example.org', { kind: 'status', target: { kind: 'name', name: 'web-1.example.org' } }],
  ['status cve-2024-3094', { kind: 'status', target: { kind: 'cve', id: 'CVE-2024-3094' } }],
  ['status DSA-5764-1', { kind: 'status', target: { kind: 'advisory', id: 'DSA-5764-1' } }],
  ['status usn-6859-1', { kind: 'status', target: { kind: 'advisory', id: 'USN-6859-1' } }],
  ['status GHSA-Xq3M-2V4X-88gg', { kind: 'status', target: { kind: 'advisory', id: 'GHSA-xq3m-2v4x-88gg' } }],
  ['status RHSA-2024:1234', { kind: 'status', target: { kind: 'advisory', id: 'RHSA-2024:1234' } }],
  ['status team:payments', { kind: 'status', target: { kind: 'team', name: 'payments' } }],
  ['status host:db-1', { kind: 'status', target: { kind: 'host', name: 'db-1' } }],
  ['status cve:CVE-2024-3094', { kind: 'status', target: { kind: 'cve', id: 'CVE-2024-3094' } }],
  ['status cve:not-a-cve', { kind: 'unknown' }],
  ['status a b', { kind: 'unknown' }],
  ['status <!channel>', { kind: 'unknown' }],
  ['status ../../etc/passwd', { kind: 'unknown' }],
  ['coverage', { kind: 'coverage' }],
  ['coverage payments', { kind: 'coverage', team: 'payments' }],
  ['coverage pay ments', { kind: 'unknown' }],
  ['approve 42', { kind: 'approve', change: { number: 42 } }],
  ['approve #42', { kind: 'approve', change: { number: 42 } }],
  [
    'approve 0B5E3C1E-7F0A-4A63-9D55-2F8E6A1C4B21',
    { kind: 'approve', change: { id: '0b5e3c1e-7f0a-4a63-9d55-2f8e6a1c4b21' } },
  ],
  ['approve', { kind: 'unknown' }],
  ['approve 0', { kind: 'unknown' }],
  ['approve 42 43', { kind: 'unknown' }],
  ['approve forty-two', { kind: 'unknown' }],
  ['reject 42', { kind: 'reject', change: { number: 42 } }],
  [
    'reject #7 breaks  the bank API',
    { kind: 'reject', change: { number: 7 }, reason: 'breaks  the bank API' },
  ],
  ['reject', { kind: 'unknown' }],
  ['request 42', { kind: 'request', change: { number: 42 }, emergency: false }],
  [
    'request #42 --emergency KEV on the  gateway',
    { kind: 'request', change: { number: 42 }, emergency: true, reason: 'KEV on the  gateway' },
  ],
  [
    'request 42 before Friday',
    { kind: 'request', change: { number: 42 }, emergency: false, reason: 'before Friday' },
  ],
  ['REQUEST 42 --EMERGENCY', { kind: 'request', change: { number: 42 }, emergency: true }],
  ['request 42 --urgent', { kind: 'unknown' }],
  ['request', { kind: 'unknown' }],
  ['request soon', { kind: 'unknown' }],
  ['deploy 42', { kind: 'unknown' }],
  ['frobnicate', { kind: 'unknown' }],
];

describe('parsePatchCommand', () => {
  it.each(cases)('%j', (text, expected) => {
    const got = parsePatchCommand(text);
    if (expected.kind === 'unknown') {
      expect(got.kind).toBe('unknown');
      expect(got.kind === 'unknown' && got.problem.length).toBeGreaterThan(0);
    } else {
      expect(got).toEqual(expected);
    }
  });

  it('names the unknown subcommand in the problem', () => {
    const got = parsePatchCommand('frobnicate now');
    expect(got).toEqual({ kind: 'unknown', problem: 'unknown subcommand "frobnicate"' });
  });

  it('caps a very long reject reason', () => {
    const got = parsePatchCommand(`reject 1 ${'x'.repeat(5000)}`);
    expect(got.kind === 'reject' && got.reason?.length).toBe(2000);
  });
});
