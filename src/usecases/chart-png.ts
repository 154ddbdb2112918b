/**
 * SVG to PNG with resvg (@resvg/resvg-js: a Rust renderer shipped as prebuilt N-API binaries in
 * per-platform npm packages, so `npm install` needs no compiler, no system library and no download
 * outside the registry). Text uses the system's fonts (DejaVu Sans when installed, any sans-serif
 * otherwise); without any font the chart still renders, without its labels.
 */
import { Resvg } from '@resvg/resvg-js';
import { CHART_FONT, type SvgChart } from '../core/metrics/chart.js';

export function svgToPng(chart: SvgChart): Uint8Array {
  const resvg = new Resvg(chart.svg, {
    fitTo: { mode: 'width', value: chart.width },
    background: '#ffffff',
    font: { loadSystemFonts: true, defaultFontFamily: CHART_FONT, sansSerifFamily: CHART_FONT },
    shapeRendering: 2,
    textRendering: 1,
  });
  return new Uint8Array(resvg.render().asPng());
}
