import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * The run's timeline as a picture: the fault schedule (as it really ran) above the WeChat Pay calls per second the
 * sandbox answered (by outcome) and the number of lifecycles in alert, on one time axis. Drawn with Vega-Lite to SVG,
 * then rendered to PNG by resvg (no native build, no browser).
 */

export interface TimelineData {
  /** Seconds after the fault phase began. */
  faults: Array<{ kind: string; start: number; end: number; label: string }>;
  calls: Array<{ t: number; outcome: string; perSecond: number }>;
  alerts: Array<{ t: number; lifecycles: number }>;
  phases: Array<{ t: number; label: string }>;
}

const WIDTH = 1100;
export const CALL_OUTCOMES = ['2xx', '401 (clock drift)', 'injected fault', 'other error'] as const;

export async function renderTimeline(data: TimelineData, title: string): Promise<{ svg: string; png: Buffer }> {
  const x = { field: 't', type: 'quantitative' as const, title: 'seconds after the fault phase began' };
  const rules = {
    data: { values: data.phases },
    mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#888' },
    encoding: { x: { field: 't', type: 'quantitative' as const } },
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    config: { font: 'DejaVu Sans', view: { stroke: '#ddd' } },
    vconcat: [
      {
        width: WIDTH,
        height: 22 * Math.max(1, new Set(data.faults.map((f) => f.kind)).size),
        title: 'faults (as they ran)',
        data: { values: data.faults },
        mark: { type: 'bar', cornerRadius: 2, height: 14 },
        encoding: {
          y: { field: 'kind', type: 'nominal', title: null, sort: null },
          x: { field: 'start', type: 'quantitative', title: null },
          x2: { field: 'end' },
          color: { field: 'kind', type: 'nominal', legend: null },
          tooltip: [{ field: 'label' }],
        },
      },
      {
        width: WIDTH,
        height: 220,
        title: 'WeChat Pay calls per second (as the sandbox answered them)',
        layer: [
          {
            data: { values: data.calls },
            mark: { type: 'line', interpolate: 'step-after' },
            encoding: {
              x,
              y: { field: 'perSecond', type: 'quantitative', title: 'calls/s' },
              color: {
                field: 'outcome',
                type: 'nominal',
                title: 'answer',
                scale: { domain: [...CALL_OUTCOMES], range: ['#1f77b4', '#ff7f0e', '#9467bd', '#d62728'] },
              },
            },
          },
          rules,
        ],
      },
      {
        width: WIDTH,
        height: 160,
        title: 'lifecycles in alert (RepaymentAlert set)',
        layer: [
          {
            data: { values: data.alerts },
            mark: { type: 'area', interpolate: 'step-after', color: '#d62728', opacity: 0.6 },
            encoding: { x, y: { field: 'lifecycles', type: 'quantitative', title: 'lifecycles' } },
          },
          rules,
        ],
      },
    ],
    // One time axis; the faults' colours and the answers' colours are separate scales (and only the latter has a legend).
    resolve: { scale: { x: 'shared', color: 'independent' }, legend: { color: 'independent' } },
  };
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true } }).render().asPng();
  return { svg, png: Buffer.from(png) };
}
