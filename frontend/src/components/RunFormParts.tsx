// Parts the run forms (centralized and federated training) lay out alike: the page header,
// the dataset choice, the DP mode, the Advanced section, the submit row and the frame of the
// privacy estimate (what each form says about an estimate is its own).
import type { ReactNode } from 'react';
import { Link } from 'react-router-dom';
import type { Dataset } from '../types';
import type { Estimate } from '../useDebouncedEstimate';
import { ErrorMessage } from './ErrorMessage';
import type { FieldKit } from './formFields';
import { TrainingModeSwitch } from './TrainingModeSwitch';

export function RunFormHeader({ current, onRefresh }: { current: 'centralized' | 'federated'; onRefresh: () => void }) {
  return (
    <>
      <div className="page-header">
        <h1>Training</h1>
        <button type="button" className="btn btn-ghost" onClick={onRefresh}>
          Refresh datasets
        </button>
      </div>
      <TrainingModeSwitch current={current} />
    </>
  );
}

/** What the dataset choice needs of a run form (useRunForm's state). */
export interface DatasetChoice {
  kit: FieldKit<'dataset'>;
  shownError: (f: 'dataset') => string | undefined;
  datasets: Dataset[] | null;
  datasetsError: string | null;
  ready: Dataset[];
  /** The chosen one (null: none, or not listed). */
  dataset: Dataset | null;
  form: { dataset: string };
  set: (f: 'dataset', value: string) => void;
}

/** The ready datasets to train on ("Loading…" until listed); one the URL named stays offered. */
export function DatasetField({ run, id }: { run: DatasetChoice; id: string }) {
  const { kit, datasets, datasetsError, ready, dataset } = run;
  const value = run.form.dataset;
  if (datasets === null && !datasetsError) return <p className="muted">Loading datasets…</p>;
  if (ready.length === 0) {
    return (
      <p className="muted" data-testid="no-ready-datasets">
        No ready dataset yet. Upload and extract one on the <Link to="/datasets">Datasets</Link> page.
      </p>
    );
  }
  return kit.field(
    'dataset',
    <select
      id={id}
      value={value}
      onChange={(e) => run.set('dataset', e.target.value)}
      aria-invalid={run.shownError('dataset') ? true : undefined}
      aria-describedby={kit.describedBy('dataset')}
    >
      {value && !ready.some((d) => String(d.id) === value) && (
        <option value={value}>{dataset ? `${dataset.name} (${dataset.status})` : `#${value}`}</option>
      )}
      {ready.map((d) => (
        <option key={d.id} value={d.id}>
          {d.name} — {d.images.toLocaleString('en-US')} images, {d.identities.toLocaleString('en-US')} identities
        </option>
      ))}
    </select>,
    undefined,
    'field-wide',
  );
}

export type DpMode = 'noise' | 'target';

/** Give the noise multiplier, or the target ε the noise is calibrated to. */
export function DpModeChoice({ name, value, onChange }: { name: string; value: DpMode; onChange: (mode: DpMode) => void }) {
  return (
    <div className="source-choice" role="radiogroup" aria-label="DP mode">
      <label className="radio">
        <input type="radio" name={name} checked={value === 'noise'} onChange={() => onChange('noise')} />
        noise multiplier
      </label>
      <label className="radio">
        <input type="radio" name={name} checked={value === 'target'} onChange={() => onChange('target')} />
        target ε
      </label>
    </div>
  );
}

export function AdvancedSection({
  open,
  onOpenChange,
  children,
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  children: ReactNode;
}) {
  return (
    <details className="card advanced" open={open} onToggle={(e) => onOpenChange((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Advanced</summary>
      <div className="form-row">{children}</div>
    </details>
  );
}

/** The submit button, "Fix the fields marked above." after a refused submit, and the general error. */
export function RunFormActions({
  label,
  busy,
  disabled,
  fieldsInError,
  error,
}: {
  label: string;
  busy: boolean;
  disabled: boolean;
  fieldsInError: boolean;
  error: string | null;
}) {
  return (
    <>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || disabled}>
          {busy ? 'Starting…' : label}
        </button>
        {fieldsInError && <span className="muted">Fix the fields marked above.</span>}
      </div>
      <ErrorMessage error={error} />
    </>
  );
}

/** The privacy estimate: why there is none (`problem`), its error, "Estimating ε…", or
 *  `children(result, stale)` — the last result, marked stale while a new one is asked for. */
export function EstimateBox<R, Q>({
  estimate,
  problem,
  children,
}: {
  estimate: Estimate<R, Q>;
  problem: string | null;
  children: (result: R, stale: boolean) => ReactNode;
}) {
  let body: ReactNode;
  if (problem) {
    body = <p className="muted">{problem}</p>;
  } else if (estimate.state === 'error') {
    body = (
      <div className="error" role="alert" data-testid="estimate-error">
        {estimate.error}
      </div>
    );
  } else if (estimate.state === 'done') {
    body = children(estimate.result, false);
  } else if (estimate.state === 'pending' && estimate.last) {
    body = children(estimate.last, true);
  } else if (estimate.state === 'pending') {
    body = <p className="muted">Estimating ε…</p>;
  } else {
    body = null;
  }
  return (
    <section className="estimate" aria-live="polite" aria-label="Privacy estimate">
      <h3>Privacy estimate</h3>
      {body}
    </section>
  );
}
