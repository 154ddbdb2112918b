/**
 * Debian version comparisons per second on one core, over pairs of real versions (the Debian 12
 * status file in the test fixtures, its source versions, and realistic edits of them: stable
 * updates, binNMUs, backports, epochs). Also rpm and apk for reference.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareApk } from '../src/core/versions/apk.js';
import { compareDeb } from '../src/core/versions/deb.js';
import { compareRpm } from '../src/core/versions/rpm.js';

const STATUS = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/versions/debian12-dpkg-status',
);

function realVersions(): string[] {
  const text = readFileSync(STATUS, 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/^Version: (\S+)$/gm)) found.add(m[1]);
  for (const m of text.matchAll(/^Source: \S+ \((\S+)\)$/gm)) found.add(m[1]);
  return [...found];
}

function variants(v: string): string[] {
  const bumped = v.replace(/(\d+)(\D*)$/, (_m, d: string, rest: string) => `${Number(d) + 1}${rest}`);
  return [
    v,
    `${v}+b1`,
    `${v}+deb12u1`,
    `${v}~bpo12+1`,
    bumped,
    v.includes(':') ? v.slice(v.indexOf(':') + 1) : `1:${v}`,
  ];
}

/** Deterministic pseudo-random pairs: mostly versions of the same package (what matching compares). */
function pairsFrom(versions: string[], count: number): [string[], string[]] {
  const a: string[] = [];
  const b: string[] = [];
  let seed = 12345;
  const next = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < count; i++) {
    const v = versions[next(versions.length)];
    const vs = variants(v);
    a.push(vs[next(vs.length)]);
    b.push(i % 4 === 0 ? versions[next(versions.length)] : vs[next(vs.length)]);
  }
  return [a, b];
}

function measure(
  compare: (x: string, y: string) => number,
  a: string[],
  b: string[],
  seconds: number,
): number {
  let done = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  for (;;) {
    for (let i = 0; i < a.length; i++) sink += compare(a[i], b[i]);
    done += a.length;
    if (process.hrtime.bigint() - start >= limit) break;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (sink === Number.MAX_SAFE_INTEGER) console.log(sink);
  return done / elapsed;
}

export async function run(): Promise<void> {
  const versions = realVersions();
  const [a, b] = pairsFrom(versions, 100_000);
  measure(compareDeb, a, b, 0.3); // warm-up
  const debRate = measure(compareDeb, a, b, 2);
  console.log(
    `deb compare: ${a.length} pairs (from ${versions.length} real versions), ${(debRate / 1e6).toFixed(2)} M comparisons/s (target >= 2)`,
  );
  const rpmRate = measure(compareRpm, a, b, 1);
  console.log(`rpm compare: ${a.length} pairs, ${(rpmRate / 1e6).toFixed(2)} M comparisons/s`);
  const apkVersions = [
    '1.2.3-r0',
    '1.2.3-r1',
    '1.2.3_rc1-r0',
    '1.2.4_p1-r2',
    '1.10.0-r0',
    '2.0_git20240101-r0',
    '1.2.3a-r0',
  ];
  const apkA = Array.from({ length: 10_000 }, (_, i) => apkVersions[i % apkVersions.length]);
  const apkB = Array.from({ length: 10_000 }, (_, i) => apkVersions[(i * 7 + 3) % apkVersions.length]);
  const apkRate = measure(compareApk, apkA, apkB, 0.5);
  console.log(`apk compare: ${apkA.length} pairs, ${(apkRate / 1e6).toFixed(2)} M comparisons/s`);
  await Promise.resolve();
}
