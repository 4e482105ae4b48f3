interface Props {
  /** 0..1 (values outside are clamped). */
  value: number;
  label?: string;
  showPercent?: boolean;
}

export function toPercent(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.round(Math.min(1, Math.max(0, value)) * 100);
}

export function ProgressBar({ value, label = 'Progress', showPercent = true }: Props) {
  const pct = toPercent(value);
  return (
    <div className="progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={pct}
      >
        <div className="progress-fill" style={{ width: `${pct}%` }} />
      </div>
      {showPercent && <span className="progress-text">{pct}%</span>}
    </div>
  );
}
