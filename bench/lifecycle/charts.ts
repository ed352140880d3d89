import { writeFileSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as echarts from 'echarts';

/**
 * PNG line charts: Apache ECharts renders SVG on the server (no DOM, no canvas), resvg turns it into PNG with the
 * DejaVu font shipped as a package, so the output is the same on any machine and nothing native is built.
 */

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

export function lineChartPng(
  file: string,
  title: string,
  axes: { x: string; y: string },
  series: Series[],
  options: { logY?: boolean } = {},
): void {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: 1000, height: 420 });
  chart.setOption({
    animation: false,
    title: { text: title, left: 'center', textStyle: { fontSize: 15 } },
    legend: { bottom: 4 },
    grid: { left: 70, right: 40, top: 50, bottom: 70 },
    xAxis: { type: 'value', name: axes.x, nameLocation: 'middle', nameGap: 28, min: 'dataMin', max: 'dataMax' },
    yAxis: { type: options.logY ? 'log' : 'value', name: axes.y, nameLocation: 'middle', nameGap: 50 },
    series: series.map((s) => ({
      name: s.name,
      type: 'line',
      // A series of a few points (a burst) would not show as a line.
      showSymbol: s.points.filter(([, y]) => y > 0).length < 50,
      symbolSize: 8,
      // A log axis has no 0: those points are left out (a gap).
      data: options.logY ? s.points.map(([x, y]) => [x, y > 0 ? y : null]) : s.points,
    })),
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  const png = new Resvg(svg, {
    background: 'white',
    font: {
      fontFiles: [require.resolve('dejavu-fonts-ttf/ttf/DejaVuSans.ttf')],
      loadSystemFonts: false,
      defaultFontFamily: 'DejaVu Sans',
    },
  })
    .render()
    .asPng();
  writeFileSync(file, png);
}
