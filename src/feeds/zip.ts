/**
 * Reads a zip archive one entry at a time (yauzl, lazy entries), so an archive of any number of
 * records costs one entry's memory. Hostile archives are handled entry by entry:
 * - an absolute name, a drive letter, a `..` segment or a backslash -> that entry is rejected;
 * - an entry declaring more than `maxEntryBytes`, or inflating past it -> that entry is rejected;
 * - more than `maxTotalBytes` in all, or more than `maxEntries` entries -> the archive stops with
 *   an error (what was read before stays imported).
 * Nothing is ever written to disk, so names are only labels; they are still checked because a
 * traversal name is a sign of a forged archive worth reporting.
 */
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { PatchbotError } from '../core/errors.js';

export interface ZipLimits {
  maxEntryBytes: number;
  maxTotalBytes: number;
  maxEntries: number;
}

export type ZipItem =
  | { kind: 'file'; name: string; data: Buffer; modified: Date }
  | { kind: 'rejected'; name: string; reason: string };

const openZip = promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open);

export async function countZipEntries(path: string): Promise<number> {
  const zip = await openZip(path, { lazyEntries: true, autoClose: false, decodeStrings: false });
  const count = zip.entryCount;
  zip.close();
  return count;
}

export async function* readZip(path: string, limits: ZipLimits): AsyncGenerator<ZipItem> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path, {
      lazyEntries: true,
      autoClose: false,
      decodeStrings: false,
      validateEntrySizes: true,
    });
  } catch (err) {
    throw new PatchbotError(
      'FEED_INVALID',
      `not a readable zip archive: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (zip.entryCount > limits.maxEntries) {
    zip.close();
    throw new PatchbotError(
      'FEED_INVALID',
      `zip archive has ${zip.entryCount} entries, over the limit of ${limits.maxEntries}`,
    );
  }
  let total = 0;
  try {
    for (;;) {
      const entry = await nextEntry(zip);
      if (entry === undefined) return;
      const name = yauzl.getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        true,
      );
      const label = printable(name);
      const unsafe = unsafeName(name);
      if (unsafe !== undefined) {
        yield { kind: 'rejected', name: label, reason: unsafe };
        continue;
      }
      if (name.endsWith('/')) continue; // a directory entry
      if (entry.isEncrypted()) {
        yield { kind: 'rejected', name: label, reason: 'encrypted zip entry' };
        continue;
      }
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        yield {
          kind: 'rejected',
          name: label,
          reason: `zip entry of ${entry.uncompressedSize} bytes is over the ${limits.maxEntryBytes}-byte limit`,
        };
        continue;
      }
      total += entry.uncompressedSize;
      if (total > limits.maxTotalBytes) {
        throw new PatchbotError(
          'FEED_INVALID',
          `zip archive inflates past the ${limits.maxTotalBytes}-byte limit at entry ${label} (zip bomb?)`,
        );
      }
      const data = await readEntry(zip, entry, limits.maxEntryBytes);
      if (typeof data === 'string') {
        yield { kind: 'rejected', name: label, reason: data };
        continue;
      }
      yield { kind: 'file', name, data, modified: entry.getLastModDate({ timezone: 'UTC' }) };
    }
  } finally {
    zip.close();
  }
}

/** Why a name is unsafe, or undefined. Same rules as yauzl.validateFileName plus control characters. */
export function unsafeName(name: string): string | undefined {
  if (name.includes('\\')) return 'unsafe zip entry name (backslash)';
  if (/^[a-zA-Z]:/.test(name) || name.startsWith('/')) return 'unsafe zip entry name (absolute path)';
  if (name.split('/').includes('..')) return 'unsafe zip entry name (path traversal with "..")';
  if ([...name].some((c) => c.charCodeAt(0) < 0x20)) return 'unsafe zip entry name (control characters)';
  return undefined;
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry) => {
      cleanup();
      resolve(entry);
    };
    const onEnd = () => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new PatchbotError('FEED_INVALID', `corrupt zip archive: ${err.message}`, { cause: err }));
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

/** The entry's bytes, or a reason string when it cannot be read within the limit. */
function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, maxBytes: number): Promise<Buffer | string> {
  return new Promise((resolve) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err !== null || stream === undefined) {
        resolve(`unreadable zip entry: ${err?.message ?? 'no stream'}`);
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      let done = false;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          done = true;
          stream.destroy();
          resolve(`zip entry inflates past the ${maxBytes}-byte limit`);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', (e: Error) => {
        if (done) return;
        done = true;
        resolve(`corrupt zip entry: ${e.message}`);
      });
      stream.on('end', () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks));
      });
    });
  });
}

function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= 200 ? clean : `${clean.slice(0, 200)}…`;
}
