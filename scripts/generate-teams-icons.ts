/**
 * Draws the Teams app icons into teams-app/ (run once; the PNGs are committed):
 *
 *   color.png    192 x 192, a white adhesive patch on patchbot blue (full-bleed background)
 *   outline.png   32 x  32, the same patch in white on a transparent background (Teams' rules)
 *
 * Shapes are signed-distance functions sampled 4 x 4 per pixel, so the edges are antialiased.
 * Usage: npx tsx scripts/generate-teams-icons.ts [output directory]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

type Rgb = [number, number, number];
export const BLUE: Rgb = [0x1f, 0x6f, 0xeb];
const WHITE: Rgb = [0xff, 0xff, 0xff];
const PAD: Rgb = [0xd6, 0xe4, 0xff];

/** Distance from (x, y) to a rounded rectangle centred at 0 with half-sizes (w, h) and radius r. */
function roundRect(x: number, y: number, w: number, h: number, r: number): number {
  const qx = Math.abs(x) - w + r;
  const qy = Math.abs(y) - h + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
}

/** The patch in a unit frame (-1..1), rotated 45 degrees: which layer covers the point. */
function layer(u: number, v: number): 'band' | 'pad' | 'hole' | 'none' {
  const c = Math.SQRT1_2;
  const x = u * c + v * c;
  const y = -u * c + v * c;
  if (roundRect(x, y, 0.86, 0.34, 0.34) > 0) return 'none';
  if (roundRect(x, y, 0.3, 0.3, 0.06) > 0) return 'band';
  // Four air holes in the pad.
  for (const [hx, hy] of [
    [-0.13, -0.13],
    [0.13, -0.13],
    [-0.13, 0.13],
    [0.13, 0.13],
  ])
    if (Math.hypot(x - hx, y - hy) < 0.07) return 'hole';
  return 'pad';
}

function draw(
  size: number,
  paint: (l: ReturnType<typeof layer>) => { rgb: Rgb; alpha: number },
  background?: Rgb,
): PNG {
  const png = new PNG({ width: size, height: size });
  const n = 4;
  for (let py = 0; py < size; py++)
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < n; sy++)
        for (let sx = 0; sx < n; sx++) {
          const u = ((px + (sx + 0.5) / n) / size) * 2 - 1;
          const v = ((py + (sy + 0.5) / n) / size) * 2 - 1;
          let { rgb, alpha } = paint(layer(u * 1.12, v * 1.12));
          if (background && alpha < 1) {
            rgb = rgb.map((ch, i) => ch * alpha + background[i] * (1 - alpha)) as Rgb;
            alpha = 1;
          }
          r += rgb[0] * alpha;
          g += rgb[1] * alpha;
          b += rgb[2] * alpha;
          a += alpha;
        }
      const i = (py * size + px) * 4;
      png.data[i] = a === 0 ? 0 : Math.round(r / a);
      png.data[i + 1] = a === 0 ? 0 : Math.round(g / a);
      png.data[i + 2] = a === 0 ? 0 : Math.round(b / a);
      png.data[i + 3] = Math.round((a / (n * n)) * 255);
    }
  return png;
}

export function colorIcon(): Buffer {
  const png = draw(
    192,
    (l) =>
      l === 'band'
        ? { rgb: WHITE, alpha: 1 }
        : l === 'pad'
          ? { rgb: PAD, alpha: 1 }
          : { rgb: BLUE, alpha: 0 },
    BLUE,
  );
  return PNG.sync.write(png);
}

export function outlineIcon(): Buffer {
  // White where the patch is; the pad is an outline (transparent inside a white ring is too thin at
  // 32 px), so the pad stays white and the air holes are transparent.
  const png = draw(32, (l) =>
    l === 'band' || l === 'pad' ? { rgb: WHITE, alpha: 1 } : { rgb: WHITE, alpha: 0 },
  );
  return PNG.sync.write(png);
}

async function main(): Promise<void> {
  const dir = process.argv[2] ?? fileURLToPath(new URL('../teams-app/', import.meta.url));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'color.png'), colorIcon());
  await writeFile(path.join(dir, 'outline.png'), outlineIcon());
  process.stdout.write(`wrote ${path.join(dir, 'color.png')} and ${path.join(dir, 'outline.png')}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
