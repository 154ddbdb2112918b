/**
 * The digest's trend chart as SVG: host coverage (a line, left axis 0-100 %) and open risk (bars,
 * right axis: open findings at the threshold band or above) over the trend weeks. Pure: the SVG
 * text is rasterised to PNG elsewhere. Weeks without a snapshot are gaps (no bar, the line breaks).
 */
import type { TrendPoint } from './definitions.js';

export interface TrendChartOptions {
  title: string;
  /** Names the open-risk series, e.g. "Open findings at high risk or above". */
  riskLabel: string;
  width?: number;
  height?: number;
}

export interface SvgChart {
  svg: string;
  width: number;
  height: number;
}

export const CHART_WIDTH = 960;
export const CHART_HEIGHT = 480;
export const CHART_FONT = 'DejaVu Sans';

const COVERAGE_COLOUR = '#1d6fb8';
const RISK_COLOUR = '#e8833a';
const GRID = '#d9dde3';
const INK = '#1f2328';
const MUTED = '#57606a';

function escapeXml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** The right axis maximum: four whole-number ticks of 1, 2, 2.5 or 5 x 10^n each, at least `max`. */
export function niceMax(max: number): number {
  const quarter = Math.max(max, 4) / 4;
  for (let p = 1; ; p *= 10) {
    for (const f of [1, 2, 2.5, 5]) {
      const step = f * p;
      if (Number.isInteger(step) && step >= quarter) return step * 4;
    }
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "2026-03-30" -> "30 Mar". */
function weekLabel(weekStart: string): string {
  const [, m, d] = weekStart.split('-').map(Number);
  return `${d ?? ''} ${MONTHS[(m ?? 1) - 1] ?? ''}`;
}

const n = (x: number) => (Math.round(x * 10) / 10).toString();

export function trendChartSvg(points: readonly TrendPoint[], options: TrendChartOptions): SvgChart {
  const width = options.width ?? CHART_WIDTH;
  const height = options.height ?? CHART_HEIGHT;
  const left = 70;
  const right = width - 80;
  const top = 78;
  const bottom = height - 56;
  const plotW = right - left;
  const plotH = bottom - top;
  const slots = Math.max(points.length, 1);
  const slot = plotW / slots;
  const x = (i: number) => left + slot * (i + 0.5);
  const riskMax = niceMax(Math.max(0, ...points.map((p) => p.openRisk ?? 0)));
  const yCov = (c: number) => bottom - c * plotH;
  const yRisk = (r: number) => bottom - (r / riskMax) * plotH;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${CHART_FONT}, sans-serif">`,
  );
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${left}" y="32" font-size="20" font-weight="bold" fill="${INK}">${escapeXml(options.title)}</text>`,
  );
  // legend
  parts.push(
    `<line x1="${left}" y1="54" x2="${left + 28}" y2="54" stroke="${COVERAGE_COLOUR}" stroke-width="3"/>`,
    `<circle cx="${left + 14}" cy="54" r="4" fill="${COVERAGE_COLOUR}"/>`,
    `<text x="${left + 36}" y="59" font-size="14" fill="${INK}">Host coverage (left axis)</text>`,
    `<rect x="${left + 260}" y="47" width="16" height="14" fill="${RISK_COLOUR}" fill-opacity="0.75"/>`,
    `<text x="${left + 284}" y="59" font-size="14" fill="${INK}">${escapeXml(options.riskLabel)} (right axis)</text>`,
  );
  // grid and axes
  for (let i = 0; i <= 4; i++) {
    const y = bottom - (plotH * i) / 4;
    parts.push(
      `<line x1="${left}" y1="${n(y)}" x2="${right}" y2="${n(y)}" stroke="${GRID}" stroke-width="1"/>`,
      `<text x="${left - 8}" y="${n(y + 5)}" font-size="13" text-anchor="end" fill="${COVERAGE_COLOUR}">${i * 25}%</text>`,
      `<text x="${right + 8}" y="${n(y + 5)}" font-size="13" fill="${RISK_COLOUR}">${((riskMax * i) / 4).toLocaleString('en')}</text>`,
    );
  }
  parts.push(
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="${MUTED}" stroke-width="1.5"/>`,
  );
  // open risk bars
  const barW = Math.max(4, slot * 0.5);
  points.forEach((p, i) => {
    if (p.openRisk === null) return;
    const y = yRisk(p.openRisk);
    parts.push(
      `<rect x="${n(x(i) - barW / 2)}" y="${n(y)}" width="${n(barW)}" height="${n(bottom - y)}" fill="${RISK_COLOUR}" fill-opacity="0.75"/>`,
    );
  });
  // coverage line (broken where a week has no value)
  let run: string[] = [];
  const flush = () => {
    if (run.length > 1)
      parts.push(
        `<polyline points="${run.join(' ')}" fill="none" stroke="${COVERAGE_COLOUR}" stroke-width="3" stroke-linejoin="round"/>`,
      );
    run = [];
  };
  points.forEach((p, i) => {
    if (p.coverage === null) {
      flush();
      return;
    }
    run.push(`${n(x(i))},${n(yCov(p.coverage))}`);
  });
  flush();
  points.forEach((p, i) => {
    if (p.coverage === null) return;
    parts.push(`<circle cx="${n(x(i))}" cy="${n(yCov(p.coverage))}" r="4.5" fill="${COVERAGE_COLOUR}"/>`);
  });
  // week labels
  points.forEach((p, i) => {
    parts.push(
      `<text x="${n(x(i))}" y="${bottom + 22}" font-size="13" text-anchor="middle" fill="${MUTED}">${escapeXml(weekLabel(p.weekStart))}</text>`,
    );
  });
  parts.push(
    `<text x="${left}" y="${height - 10}" font-size="12" fill="${MUTED}">Weeks starting on Monday; a gap is a week without a snapshot.</text>`,
  );
  parts.push('</svg>');
  return { svg: parts.join('\n'), width, height };
}
