/**
 * The PNG shrinking behind TeamsPoster.uploadPng, against pngjs as the reference encoder and
 * decoder: what it decodes is what pngjs wrote, what it writes pngjs reads back, and scaling
 * averages the pixels each target pixel covers.
 */
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodePng, encodePng, fitPng, scaleDown } from '../../../src/bot/teams/png.js';

function sample(width: number, height: number, colorType: 2 | 6 = 6): Buffer {
  const img = new PNG({ width, height, colorType, inputHasAlpha: true });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      img.data[i] = (x * 7) & 0xff;
      img.data[i + 1] = (y * 13) & 0xff;
      img.data[i + 2] = (x * y) & 0xff;
      img.data[i + 3] = colorType === 6 ? (x + y) & 0xff : 255;
    }
  return PNG.sync.write(img, { colorType, inputHasAlpha: true });
}

describe('decodePng', () => {
  it.each([
    ['RGBA', 6 as const],
    ['RGB', 2 as const],
  ])('reads %s as pngjs wrote it (every row filter)', (_name, colorType) => {
    const png = sample(97, 41, colorType);
    const mine = decodePng(png)!;
    const ref = PNG.sync.read(png);
    expect([mine.width, mine.height]).toEqual([97, 41]);
    expect(Buffer.from(mine.data).equals(ref.data)).toBe(true);
  });

  it('leaves what it does not read alone', () => {
    expect(decodePng(Buffer.from('not a png'))).toBeUndefined();
    const palette = PNG.sync.write(PNG.sync.read(sample(8, 8)), { colorType: 0 });
    expect(decodePng(palette)).toBeUndefined();
  });
});

describe('encodePng and scaleDown', () => {
  it('writes what pngjs reads back', () => {
    const img = decodePng(sample(64, 33))!;
    const back = PNG.sync.read(encodePng(img));
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });

  it('averages the covered pixels', () => {
    const img = {
      width: 2,
      height: 2,
      data: new Uint8Array([0, 0, 0, 255, 100, 100, 100, 255, 200, 200, 200, 255, 100, 100, 100, 255]),
    };
    expect(Array.from(scaleDown(img, 1).data)).toEqual([100, 100, 100, 255]);
  });

  it('fitPng keeps a small PNG as it is and shrinks a large one under the limit', () => {
    const small = sample(10, 10);
    expect(fitPng(small, 10_000)).toBe(small);
    const large = sample(800, 400);
    const fitted = fitPng(large, 60_000)!;
    expect(fitted.byteLength).toBeLessThanOrEqual(60_000);
    const read = PNG.sync.read(Buffer.from(fitted));
    expect(read.width).toBeLessThan(800);
    expect(fitPng(large, 100)).toBeUndefined();
  });
});
