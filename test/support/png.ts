/**
 * A strict PNG reader for tests: checks the signature, every chunk's CRC, that IHDR comes first and
 * IEND last, and that the image data inflates to exactly one filter byte plus one row of pixels
 * per line. Returns the header fields.
 */
import { crc32, inflateSync } from 'node:zlib';

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  chunks: string[];
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples per pixel by colour type (greyscale, RGB, palette, grey+alpha, RGBA). */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export function parsePng(data: Uint8Array): PngInfo {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: bad signature');
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let header: Omit<PngInfo, 'chunks'> | undefined;
  let offset = 8;
  while (offset < buf.length) {
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const body = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== crc) throw new Error(`bad CRC in ${type}`);
    chunks.push(type);
    if (type === 'IHDR') {
      if (chunks.length !== 1) throw new Error('IHDR is not the first chunk');
      header = {
        width: body.readUInt32BE(0),
        height: body.readUInt32BE(4),
        bitDepth: body.readUInt8(8),
        colorType: body.readUInt8(9),
      };
    }
    if (type === 'IDAT') idat.push(Buffer.from(body));
    offset += 12 + length;
    if (type === 'IEND') break;
  }
  if (!header) throw new Error('no IHDR chunk');
  if (chunks.at(-1) !== 'IEND' || offset !== buf.length) throw new Error('IEND is not the last chunk');
  const channels = CHANNELS[header.colorType];
  if (channels === undefined) throw new Error(`unknown colour type ${header.colorType}`);
  const rowBytes = Math.ceil((header.width * channels * header.bitDepth) / 8);
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== header.height * (rowBytes + 1))
    throw new Error(`image data is ${raw.length} bytes, expected ${header.height * (rowBytes + 1)}`);
  return { ...header, chunks };
}
