/**
 * Zstandard (`firmware.xml.zst`, as LVFS serves its metadata) through fzstd, with the same cap as
 * every other document: decompression stops as soon as the output passes `maxBytes`, so a
 * zstd bomb costs a clear error, not the process's memory.
 */
import { Decompress } from 'fzstd';
import { PatchbotError, truncate } from '../core/errors.js';

export function isZstd(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd;
}

/** Decompresses a zstd stream (file chunks, or one buffer) into one buffer of at most `maxBytes`. */
export async function inflateZstd(
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
  label: string,
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let over = false;
  let finished = false;
  const zstd = new Decompress((data, final) => {
    if (over) return;
    bytes += data.length;
    if (bytes > maxBytes) {
      over = true;
      return;
    }
    chunks.push(data);
    if (final === true) finished = true;
  });
  const overLimit = (): PatchbotError =>
    new PatchbotError('FEED_INVALID', `${label}: zstd data inflates past the ${maxBytes}-byte limit`);
  try {
    for await (const chunk of input) {
      zstd.push(chunk);
      if (over) throw overLimit();
    }
    zstd.push(new Uint8Array(0), true);
  } catch (err) {
    if (err instanceof PatchbotError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new PatchbotError(
      'FEED_INVALID',
      `${label}: zstd data is truncated or corrupt (${truncate(message, 120)})`,
      {
        cause: err,
      },
    );
  }
  if (over) throw overLimit();
  if (!finished && bytes === 0)
    throw new PatchbotError('FEED_INVALID', `${label}: zstd data is truncated or corrupt (no frame)`);
  return Buffer.concat(chunks);
}
