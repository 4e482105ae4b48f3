import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { IdentityHistogram, histogramBars } from './IdentityHistogram';

describe('histogramBars', () => {
  it('one bar per identity when there are few', () => {
    const bars = histogramBars([0, 1, 2], [5, 9, 2]);
    expect(bars.map((b) => [b.label, b.value])).toEqual([
      ['0', 5],
      ['1', 9],
      ['2', 2],
    ]);
  });

  it('buckets thousands of identities by rank (most images first)', () => {
    const counts = Array.from({ length: 10_000 }, (_, i) => (i % 50) + 1);
    const labels = counts.map((_, i) => i);
    const bars = histogramBars(labels, counts, 50);
    expect(bars).toHaveLength(50);
    expect(bars[0].value).toBe(50);
    expect(bars[49].value).toBe(1);
    expect(bars.every((b, i) => i === 0 || b.value <= bars[i - 1].value)).toBe(true);
    expect(bars[0].title).toBe('identities ranked 1–200: 50–50 images (mean 50.0)');
  });
});

describe('IdentityHistogram', () => {
  it('renders at most 60 bars and a caption', () => {
    const counts = Array.from({ length: 500 }, (_, i) => i + 1);
    render(<IdentityHistogram labels={counts.map((_, i) => i)} counts={counts} total={800} />);
    expect(screen.getByRole('img', { name: 'Images per identity' }).querySelectorAll('rect')).toHaveLength(60);
    expect(screen.getByText(/Min 1, median 250.5, max 500 — first 500 of 800 identities/)).toBeInTheDocument();
  });
});
