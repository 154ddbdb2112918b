/**
 * LVFS firmware metadata import: parse time and memory of a firmware.xml the size of LVFS's own
 * (thousands of components, tens of MB), built from the real Dell metainfo in the test fixtures
 * (each component with its own id and GUID and three releases, one listing CVEs).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLvfsMetadata } from '../src/feeds/lvfs/parse.js';

const METAINFO = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '../test/fixtures/firmware/lvfs/dell-latitude-7390-2in1.firmware.metainfo.xml',
);

function build(components: number): string {
  const template = readFileSync(METAINFO, 'utf8').replace(/^<\?xml[^>]*\?>\s*/, '');
  const release = /<release [\s\S]*<\/release>/.exec(template)?.[0] ?? '';
  const parts: string[] = [
    '<?xml version="1.0" encoding="UTF-8"?>\n<components origin="lvfs" version="0.9">\n',
  ];
  for (let i = 0; i < components; i++) {
    const hex = i.toString(16).padStart(8, '0');
    const releases = [
      release.replace('version="P1.1"', `version="1.${i % 50}.2"`),
      release.replace('version="P1.1"', `version="1.${i % 50}.1"`).replace(/<issues>[\s\S]*<\/issues>/, ''),
      release.replace('version="P1.1"', `version="1.${i % 50}.0"`).replace(/<issues>[\s\S]*<\/issues>/, ''),
    ].join('\n');
    parts.push(
      template
        .replace('com.dell.uefi6180aaaa.firmware', `com.example.uefi${hex}.firmware`)
        .replace('6180aaaa-5529-4bbf-b4fd-65b4f788de5b', `${hex}-5529-4bbf-b4fd-65b4f788de5b`)
        .replace(/<releases>[\s\S]*<\/releases>/, `<releases>${releases}</releases>`),
    );
  }
  parts.push('</components>\n');
  return parts.join('');
}

export async function run(): Promise<void> {
  for (const components of [1000, 5000]) {
    const text = build(components);
    const mb = Buffer.byteLength(text) / (1024 * 1024);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    const result = parseLvfsMetadata(text, 'bench.xml', new Date());
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / (1024 * 1024);
    console.log(
      `lvfs parse: ${components} components, ${result.releases} releases, ${mb.toFixed(1)} MiB XML -> ` +
        `${result.advisories.length} advisories in ${ms.toFixed(0)} ms (${(mb / (ms / 1000)).toFixed(1)} MiB/s), ` +
        `heap +${heapMb.toFixed(0)} MiB, rss ${(process.memoryUsage().rss / (1024 * 1024)).toFixed(0)} MiB`,
    );
  }
  await Promise.resolve();
}
