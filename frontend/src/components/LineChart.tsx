// A small line/dot chart as inline SVG (no chart library): one or more series on shared axes.
import type { Point } from '../trainingSeries';

export interface ChartSeries {
  /** Stable key: the series' element gets data-testid `<chart testId>-<key>`. */
  key: string;
  name: string;
  points: readonly Point[];
  /** CSS class setting the stroke/fill colour (see styles.css `.chart-*`). */
  className: string;
  line?: boolean;
  dots?: boolean;
  formatY?: (y: number) => string;
}

export interface RefLine {
  y: number;
  label: string;
}

interface Props {
  title: string;
  testId: string;
  series: readonly ChartSeries[];
  xLabel: string;
  /** Fixed x range (e.g. all epochs of the run), widened to fit the data. */
  xDomain?: [number, number];
  /** Fixed y range (e.g. [0, 1] for accuracy), widened to fit the data. */
  yDomain?: [number, number];
  formatY?: (y: number) => string;
  refLine?: RefLine | null;
  empty?: string;
}

const W = 640;
const H = 220;
const PAD = { left: 52, right: 14, top: 12, bottom: 34 };

function defaultFormat(y: number): string {
  const a = Math.abs(y);
  if (a === 0) return '0';
  if (a >= 100) return y.toFixed(0);
  if (a >= 10) return y.toFixed(1);
  if (a >= 0.01) return y.toFixed(2);
  return y.toPrecision(2);
}

function extent(values: number[], fixed?: [number, number]): [number, number] {
  let lo = fixed ? fixed[0] : Infinity;
  let hi = fixed ? fixed[1] : -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    // A fixed lower bound (e.g. 0) stays put.
    return fixed ? [lo, hi + d] : [lo - d, hi + d];
  }
  return [lo, hi];
}

export function LineChart({ title, testId, series, xLabel, xDomain, yDomain, formatY = defaultFormat, refLine, empty }: Props) {
  const all = series.flatMap((s) => s.points);
  const yValues = all.map((p) => p.y);
  if (refLine) yValues.push(refLine.y);
  const [x0, x1] = extent(
    all.map((p) => p.x),
    xDomain,
  );
  let [y0, y1] = extent(yValues, yDomain);
  const pad = (y1 - y0) * 0.08;
  if (!yDomain) {
    // A little air above and below the data.
    y0 = y0 >= 0 && y0 - pad < 0 ? 0 : y0 - pad;
    y1 += pad;
  } else if (y1 > yDomain[1]) {
    y1 += pad; // the data outgrew the fixed range: air above it
  }
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sx = (x: number) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number) => PAD.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const r = (n: number) => Math.round(n * 10) / 10;
  const yTicks = [y0, (y0 + y1) / 2, y1];
  const xTick = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

  return (
    <figure className="chart" data-testid={testId}>
      <figcaption className="chart-title">{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
        {yTicks.map((y, i) => (
          <g key={i}>
            <line x1={PAD.left} x2={W - PAD.right} y1={r(sy(y))} y2={r(sy(y))} className="chart-grid" />
            <text x={PAD.left - 6} y={r(sy(y)) + 4} textAnchor="end" className="chart-tick">
              {formatY(y)}
            </text>
          </g>
        ))}
        <line x1={PAD.left} x2={W - PAD.right} y1={PAD.top + plotH} y2={PAD.top + plotH} className="chart-axis" />
        <text x={PAD.left} y={H - PAD.bottom + 16} textAnchor="start" className="chart-tick">
          {xTick(x0)}
        </text>
        <text x={W - PAD.right} y={H - PAD.bottom + 16} textAnchor="end" className="chart-tick">
          {xTick(x1)}
        </text>
        <text x={PAD.left + plotW / 2} y={H - 4} textAnchor="middle" className="chart-tick">
          {xLabel}
        </text>
        {refLine && (
          <g className="chart-ref">
            <line x1={PAD.left} x2={W - PAD.right} y1={r(sy(refLine.y))} y2={r(sy(refLine.y))} />
            <text x={W - PAD.right - 4} y={r(sy(refLine.y)) - 4} textAnchor="end">
              {refLine.label}
            </text>
          </g>
        )}
        {series.map((s) => {
          const fmt = s.formatY ?? formatY;
          return (
            <g key={s.key} className={`chart-series ${s.className}`} data-testid={`${testId}-${s.key}`} data-count={s.points.length}>
              {s.line !== false && s.points.length > 1 && (
                <polyline fill="none" points={s.points.map((p) => `${r(sx(p.x))},${r(sy(p.y))}`).join(' ')} />
              )}
              {(s.dots || s.points.length === 1) &&
                s.points.map((p) => (
                  <circle key={p.x} cx={r(sx(p.x))} cy={r(sy(p.y))} r={3.5}>
                    <title>{`${s.name} at ${xLabel.toLowerCase()} ${xTick(p.x)}: ${fmt(p.y)}`}</title>
                  </circle>
                ))}
            </g>
          );
        })}
        {all.length === 0 && (
          <text x={PAD.left + plotW / 2} y={PAD.top + plotH / 2} textAnchor="middle" className="chart-empty">
            {empty ?? 'No data yet'}
          </text>
        )}
      </svg>
      {series.length > 1 && (
        <ul className="chart-legend">
          {series.map((s) => (
            <li key={s.key} className={s.className}>
              <span className="chart-swatch" aria-hidden="true" />
              {s.name}
              {s.points.length > 0 && `: ${(s.formatY ?? formatY)(s.points[s.points.length - 1].y)}`}
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
