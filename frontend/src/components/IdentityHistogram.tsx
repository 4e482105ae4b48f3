// Images per identity as inline SVG bars. Up to MAX_BARS identities: one bar each, by
// label. More: identities sorted by image count (most first) and grouped into MAX_BARS
// buckets, each bar the bucket's mean (its tooltip gives the range).

export const MAX_BARS = 60;

export interface Bar {
  /** X axis text. */
  label: string;
  value: number;
  title: string;
}

export function histogramBars(labels: readonly number[], counts: readonly number[], maxBars = MAX_BARS): Bar[] {
  if (counts.length <= maxBars) {
    return counts.map((count, i) => ({
      label: String(labels[i]),
      value: count,
      title: `identity ${labels[i]}: ${count} images`,
    }));
  }
  const sorted = [...counts].sort((a, b) => b - a);
  const bars: Bar[] = [];
  for (let b = 0; b < maxBars; b++) {
    const start = Math.floor((b * sorted.length) / maxBars);
    const end = Math.floor(((b + 1) * sorted.length) / maxBars);
    const slice = sorted.slice(start, end);
    const mean = slice.reduce((s, v) => s + v, 0) / slice.length;
    bars.push({
      label: String(start + 1),
      value: mean,
      title: `identities ranked ${start + 1}–${end}: ${slice[slice.length - 1]}–${slice[0]} images (mean ${mean.toFixed(1)})`,
    });
  }
  return bars;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const W = 640;
const H = 200;
const PAD = { left: 40, right: 8, top: 10, bottom: 28 };

export function IdentityHistogram({
  labels,
  counts,
  total,
}: {
  labels: readonly number[];
  counts: readonly number[];
  total: number;
}) {
  if (counts.length === 0) return <p className="muted">No identities.</p>;
  const bars = histogramBars(labels, counts);
  const byRank = counts.length > MAX_BARS;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const step = plotW / bars.length;
  const gap = Math.min(2, step * 0.2);
  const labelEvery = Math.ceil(bars.length / 12);

  return (
    <figure className="histogram">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Images per identity" data-testid="identity-histogram">
        <line x1={PAD.left} y1={PAD.top + plotH} x2={W - PAD.right} y2={PAD.top + plotH} className="axis" />
        <text x={PAD.left - 6} y={PAD.top + 4} textAnchor="end" className="tick">
          {Math.round(max)}
        </text>
        <text x={PAD.left - 6} y={PAD.top + plotH} textAnchor="end" className="tick">
          0
        </text>
        {bars.map((bar, i) => {
          const h = (bar.value / max) * plotH;
          const x = PAD.left + i * step + gap / 2;
          return (
            <g key={i}>
              <rect x={x} y={PAD.top + plotH - h} width={Math.max(1, step - gap)} height={h} className="bar">
                <title>{bar.title}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={x + (step - gap) / 2} y={H - PAD.bottom + 14} textAnchor="middle" className="tick">
                  {bar.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="muted">
        {byRank
          ? `Images per identity, identities sorted by count (x: rank, ${bars.length} groups; bar: mean of the group).`
          : 'Images per identity (x: identity label).'}{' '}
        Min {Math.min(...counts)}, median {median(counts)}, max {Math.max(...counts)}
        {total > counts.length ? ` — first ${counts.length} of ${total} identities.` : '.'}
      </figcaption>
    </figure>
  );
}
