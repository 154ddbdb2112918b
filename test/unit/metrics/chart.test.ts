/**
 * The trend chart: SVG from pure code, rasterised to a PNG of the expected size by resvg.
 */
import { describe, expect, it } from 'vitest';
import { CHART_HEIGHT, CHART_WIDTH, niceMax, trendChartSvg } from '../../../src/core/metrics/chart.js';
import { svgToPng } from '../../../src/usecases/chart-png.js';
import { sampleTrend } from '../../support/metrics-views.js';
import { parsePng } from '../../support/png.js';

describe('trend chart', () => {
  it('draws a bar per week with data, one coverage point per known week, and breaks the line at gaps', () => {
    const points = sampleTrend(12); // week 4 has no snapshot
    const { svg } = trendChartSvg(points, { title: 'Team <payments> & co', riskLabel: 'Open at high+' });
    expect(
      svg.match(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="#e8833a"/g),
    ).toHaveLength(
      11 + 1, // 11 weeks + the legend swatch
    );
    expect(svg.match(/<circle cx=/g)?.length).toBe(11 + 1); // 11 points + the legend marker
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('Team &lt;payments&gt; &amp; co');
    expect(svg).toContain('>5 Jan<');
  });

  it('picks readable axis maxima', () => {
    expect([0, 3, 5, 11, 30, 90, 180, 200, 201, 2600].map(niceMax)).toEqual([
      4, 4, 8, 20, 40, 100, 200, 200, 400, 4000,
    ]);
  });

  it('renders to a valid PNG of the chart size', () => {
    const png = svgToPng(
      trendChartSvg(sampleTrend(12), { title: 'Team payments', riskLabel: 'Open at high+' }),
    );
    const info = parsePng(png);
    expect(info).toMatchObject({ width: CHART_WIDTH, height: CHART_HEIGHT, bitDepth: 8 });
    expect(info.chunks[0]).toBe('IHDR');
    expect(info.chunks).toContain('IDAT');
  });

  it('renders an empty history too', () => {
    const points = sampleTrend(12).map((p) => ({ ...p, coverage: null, openRisk: null }));
    const info = parsePng(svgToPng(trendChartSvg(points, { title: 'new team', riskLabel: 'x' })));
    expect([info.width, info.height]).toEqual([CHART_WIDTH, CHART_HEIGHT]);
  });
});
