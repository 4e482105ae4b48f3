// Parts the live views of a training job and of a federated job show alike: reading the job's
// config and result, the "Current ε" stat, a plain stat, the line that links the model once
// done, and the privacy-spent chart.
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { formatEpsilon } from '../training';
import type { Job } from '../types';
import type { Point } from '../trainingSeries';
import { LineChart } from './LineChart';

/** A finite number, else null (job params are JSON of any shape). */
export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const pct = (y: number) => `${Math.round(y * 100)}%`;

/** `params.config` of a run job (the form's config), {} when absent. */
export function jobConfig<C extends object>(job: Job): Partial<C> {
  const c = job.params?.config;
  return c && typeof c === 'object' ? (c as Partial<C>) : {};
}

/** A run job's result once it names the model it made, else null. */
export function jobResult<R extends { model_id: number }>(job: Job): R | null {
  const r = job.result;
  return r && typeof r === 'object' && typeof r.model_id === 'number' ? (r as unknown as R) : null;
}

/** The ε spent so far (or the final one), where it is noted and what it protects; "none" without DP. */
export function EpsilonStat({
  dp,
  epsilon,
  known,
  waiting,
  note,
  target,
  children,
}: {
  dp: boolean;
  epsilon: number | null;
  /** False until a first ε (or the result) arrived. */
  known: boolean;
  /** What is shown until then, e.g. "after the first epoch". */
  waiting: string;
  /** e.g. "at δ = 1e-5 (RDP)". */
  note: string;
  target: number | null;
  children?: ReactNode;
}) {
  return (
    <div className="stat stat-epsilon">
      <span className="stat-label">Current ε</span>
      {dp ? (
        <>
          <span className="stat-value" data-testid="current-epsilon">
            {known ? formatEpsilon(epsilon) : '—'}
          </span>
          <span className="stat-note">
            {known ? note : waiting}
            {target !== null && ` · target ${formatEpsilon(target)}`}
          </span>
          {children}
        </>
      ) : (
        <>
          <span className="stat-value" data-testid="current-epsilon">
            none
          </span>
          <span className="stat-note">trained without DP: no privacy guarantee</span>
        </>
      )}
    </div>
  );
}

export function Stat({ label, value, testId, note }: { label: string; value: ReactNode; testId?: string; note?: ReactNode }) {
  return (
    <div className="stat">
      <span className="stat-label">{label}</span>
      <span className="stat-value" data-testid={testId}>
        {value}
      </span>
      {note !== undefined && <span className="stat-note">{note}</span>}
    </div>
  );
}

/** "Completed 3 epochs. Open model #9" */
export function RunDone({ text, modelId }: { text: string; modelId: number }) {
  return (
    <p className="training-done" data-testid="training-result">
      {text}
      <Link to={`/models/${modelId}`} data-testid="model-link">
        Open model #{modelId}
      </Link>
    </p>
  );
}

export function EpsilonChart({
  xLabel,
  xDomain,
  points,
  target,
  empty,
}: {
  xLabel: string;
  xDomain: [number, number];
  points: readonly Point[];
  target: number | null;
  empty: string;
}) {
  return (
    <LineChart
      title="Privacy spent (ε)"
      testId="chart-epsilon"
      xLabel={xLabel}
      xDomain={xDomain}
      yDomain={[0, 0]}
      formatY={(y) => formatEpsilon(y)}
      refLine={target !== null ? { y: target, label: `target ε = ${formatEpsilon(target)}` } : null}
      series={[{ key: 'epsilon', name: 'ε', points, className: 'chart-c4', dots: true }]}
      empty={empty}
    />
  );
}
