import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from './ProgressBar';

describe('ProgressBar', () => {
  it('renders the percent as text and aria-valuenow', () => {
    render(<ProgressBar value={0.425} />);
    const bar = screen.getByRole('progressbar');
    expect(bar).toHaveAttribute('aria-valuenow', '43');
    expect(bar).toHaveAttribute('aria-valuemax', '100');
    expect(screen.getByText('43%')).toBeInTheDocument();
  });

  it('clamps out-of-range values', () => {
    render(<ProgressBar value={1.7} />);
    expect(screen.getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
  });
});
