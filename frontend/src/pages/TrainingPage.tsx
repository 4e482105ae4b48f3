import { useCallback, useEffect, useMemo, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { ACCOUNTANT_LABELS, fieldKit, HEAD_LABELS, MODEL_LABELS, OPTIMIZER_LABELS } from '../components/formFields';
import { TrainingModeSwitch } from '../components/TrainingModeSwitch';
import { listDatasets } from '../datasets';
import {
  ACCOUNTANTS,
  DEFAULT_FORM,
  estimatePrivacy,
  estimateSummary,
  FIELD_LABELS,
  formatNoise,
  HEADS,
  LR_SCHEDULES,
  MODELS,
  numExamples,
  OPTIMIZERS,
  placeServerError,
  privacyQueryOf,
  startTraining,
  validateTrainingForm,
} from '../training';
import type { FormErrors, FormField, TrainingForm } from '../training';
import type { Dataset, PrivacyEstimate, PrivacyQuery } from '../types';
import { useDebouncedEstimate } from '../useDebouncedEstimate';
import type { Estimate as EstimateOf } from '../useDebouncedEstimate';

/** Wait this long after the last edit before asking the server for ε. */
export { ESTIMATE_DEBOUNCE_MS } from '../useDebouncedEstimate';

const ADVANCED: FormField[] = ['image_size', 'holdout_fraction', 'momentum', 'weight_decay', 'warmup_epochs'];
const FIELD_ORDER: FormField[] = [
  'dataset', 'name', 'model', 'head', 'embedding_size', 'epochs', 'batch_size', 'optimizer', 'lr', 'lr_schedule',
  'lr_steps', 'use_dp', 'noise_multiplier', 'target_epsilon', 'l2_norm_clip', 'delta', 'accountant', ...ADVANCED,
];

const SCHEDULE_LABELS: Record<string, string> = { constant: 'constant', cosine: 'cosine decay', step: 'step (×0.1 drops)' };

const fieldId = (f: FormField) => `train-${f.replace(/_/g, '-')}`;

type Estimate = EstimateOf<PrivacyEstimate, PrivacyQuery>;

function estimateError(err: unknown): string {
  if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
    return Object.entries(err.fieldErrors)
      .map(([f, msgs]) => `${FIELD_LABELS[f as FormField] ?? f}: ${msgs.join(' ')}`)
      .join('; ');
  }
  return messageOf(err);
}

/** Start a centralized training run (optionally with DP-SGD) on a ready dataset. */
export function TrainingPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [datasetsError, setDatasetsError] = useState<string | null>(null);
  const [form, setForm] = useState<TrainingForm>(() => ({ ...DEFAULT_FORM, dataset: params.get('dataset') ?? '' }));
  const [touched, setTouched] = useState<ReadonlySet<FormField>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FormErrors>({});
  const [generalError, setGeneralError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [advancedOpen, setAdvancedOpen] = useState(false);

  const load = useCallback(async () => {
    setDatasetsError(null);
    try {
      setDatasets((await listDatasets()).results);
    } catch (err) {
      setDatasetsError(`Could not list your datasets: ${messageOf(err)}`);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const ready = useMemo(() => (datasets ?? []).filter((d) => d.status === 'ready'), [datasets]);
  // Default to the first ready dataset once the list arrives (unless the URL named one).
  useEffect(() => {
    if (ready.length && !form.dataset) setForm((f) => (f.dataset ? f : { ...f, dataset: String(ready[0].id) }));
  }, [ready, form.dataset]);
  const dataset = datasets?.find((d) => String(d.id) === form.dataset) ?? null;

  const validated = validateTrainingForm(form, dataset);
  const shownError = (f: FormField): string | undefined =>
    serverErrors[f] ?? (submitted || touched.has(f) ? validated.errors[f] : undefined);

  // ε estimate: fires (debounced) when an input of the estimate changes; not a polling loop.
  const estimateInput = form.use_dp ? privacyQueryOf(form, dataset) : null;
  const queryKey = estimateInput && 'query' in estimateInput ? JSON.stringify(estimateInput.query) : null;
  const estimate = useDebouncedEstimate<PrivacyQuery, PrivacyEstimate>(queryKey, estimatePrivacy, estimateError);

  function set<K extends FormField>(field: K, value: TrainingForm[K]) {
    setForm((f) => ({ ...f, [field]: value }));
    if (serverErrors[field]) setServerErrors(({ [field]: _, ...rest }) => rest);
  }
  const touch = (field: FormField) => setTouched((t) => (t.has(field) ? t : new Set(t).add(field)));

  function focusFirst(errors: FormErrors) {
    const first = FIELD_ORDER.find((f) => errors[f]);
    if (!first) return;
    if (ADVANCED.includes(first)) setAdvancedOpen(true);
    setTimeout(() => document.getElementById(fieldId(first))?.focus(), 0);
  }

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    setGeneralError(null);
    setServerErrors({});
    const { errors, request } = validateTrainingForm(form, dataset);
    if (!request) {
      if (ADVANCED.some((f) => errors[f])) setAdvancedOpen(true);
      focusFirst(errors);
      return;
    }
    setBusy(true);
    try {
      const job = await startTraining(request.dataset, request.name, request.config);
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      const placed = placeServerError(err);
      setServerErrors(placed.fields);
      setGeneralError(placed.general);
      if (ADVANCED.some((f) => placed.fields[f])) setAdvancedOpen(true);
      focusFirst(placed.fields);
      setBusy(false);
    }
  }

  // Field helpers: a labelled control with its error (and hint) under it (shared with the federated form).
  const { describedBy, field, numberInput, select, textInput, errorLine } = fieldKit<FormField>({
    idOf: fieldId,
    labelOf: (f) => FIELD_LABELS[f],
    valueOf: (f) => String(form[f]),
    set: (f, value) => set(f, value as never),
    touch,
    errorOf: shownError,
  });

  const holdout = typeof validated.request?.config.holdout_fraction === 'number' ? validated.request.config.holdout_fraction : null;
  const trainImages = dataset ? numExamples(dataset.images, holdout ?? 0.1) : null;

  return (
    <>
      <div className="page-header">
        <h1>Training</h1>
        <button type="button" className="btn btn-ghost" onClick={() => void load()}>
          Refresh datasets
        </button>
      </div>
      <TrainingModeSwitch current="centralized" />
      <p className="muted">
        Train a face-embedding model on one of your ready datasets, optionally with differential privacy (DP-SGD). The
        run is queued on a GPU worker; its job page shows the loss, accuracy and privacy spent as it goes.
      </p>
      <form className="training-form" onSubmit={onSubmit} noValidate aria-label="New training run">
        <section className="card">
          <h2>Data and model</h2>
          <div className="form-row">
            {datasets === null && !datasetsError ? (
              <p className="muted">Loading datasets…</p>
            ) : ready.length === 0 ? (
              <p className="muted" data-testid="no-ready-datasets">
                No ready dataset yet. Upload and extract one on the <Link to="/datasets">Datasets</Link> page.
              </p>
            ) : (
              field(
                'dataset',
                <select
                  id={fieldId('dataset')}
                  value={form.dataset}
                  onChange={(e) => set('dataset', e.target.value)}
                  aria-invalid={shownError('dataset') ? true : undefined}
                  aria-describedby={describedBy('dataset')}
                >
                  {form.dataset && !ready.some((d) => String(d.id) === form.dataset) && (
                    <option value={form.dataset}>{dataset ? `${dataset.name} (${dataset.status})` : `#${form.dataset}`}</option>
                  )}
                  {ready.map((d) => (
                    <option key={d.id} value={d.id}>
                      {d.name} — {d.images.toLocaleString('en-US')} images, {d.identities.toLocaleString('en-US')}{' '}
                      identities
                    </option>
                  ))}
                </select>,
                undefined,
                'field-wide',
              )
            )}
            {textInput('name', { maxLength: 200, placeholder: dataset ? `${dataset.name} model` : 'my model' })}
          </div>
          <ErrorMessage error={datasetsError} />
          <div className="form-row">
            {select('model', MODELS, MODEL_LABELS)}
            {select('head', HEADS, HEAD_LABELS)}
            {numberInput('embedding_size', undefined, { min: 1, max: 4096, step: '1' })}
          </div>
        </section>

        <section className="card">
          <h2>Optimisation</h2>
          <div className="form-row">
            {numberInput('epochs', undefined, { min: 1, max: 1000, step: '1' })}
            {numberInput('batch_size', form.use_dp ? 'expected (Poisson) batch' : undefined, { min: 1, step: '1' })}
            {select('optimizer', OPTIMIZERS, OPTIMIZER_LABELS)}
            {numberInput('lr', undefined, { min: 0 })}
            {select('lr_schedule', LR_SCHEDULES, SCHEDULE_LABELS)}
            {form.lr_schedule === 'step' && textInput('lr_steps', { placeholder: '10, 15', className: 'input-narrow' })}
          </div>
        </section>

        <fieldset className="card dp-section" aria-describedby="dp-explainer">
          <legend className="visually-hidden">Differential privacy</legend>
          <h2 aria-hidden="true">Differential privacy</h2>
          <label className="checkbox">
            <input
              type="checkbox"
              id={fieldId('use_dp')}
              checked={form.use_dp}
              onChange={(e) => set('use_dp', e.target.checked)}
              aria-describedby={describedBy('use_dp')}
            />
            Train with differential privacy (DP-SGD)
          </label>
          {errorLine('use_dp')}
          <p className="muted small" id="dp-explainer">
            Each step clips every image's gradient to the clipping norm and adds Gaussian noise. ε bounds what the model
            can reveal about any one training image (at probability δ of failure); smaller is more private.
          </p>
          {form.use_dp && (
            <>
              <div className="source-choice" role="radiogroup" aria-label="DP mode">
                <label className="radio">
                  <input
                    type="radio"
                    name="dp-mode"
                    checked={form.dp_mode === 'noise'}
                    onChange={() => set('dp_mode', 'noise')}
                  />
                  noise multiplier
                </label>
                <label className="radio">
                  <input
                    type="radio"
                    name="dp-mode"
                    checked={form.dp_mode === 'target'}
                    onChange={() => set('dp_mode', 'target')}
                  />
                  target ε
                </label>
              </div>
              <div className="form-row">
                {form.dp_mode === 'noise'
                  ? numberInput('noise_multiplier', 'noise std ÷ clipping norm', { min: 0 })
                  : numberInput('target_epsilon', 'the noise is calibrated to it', { min: 0 })}
                {numberInput('l2_norm_clip', 'per-image gradient norm', { min: 0 })}
                {numberInput('delta', trainImages ? `well below 1/${trainImages.toLocaleString('en-US')}` : undefined, {
                  min: 0,
                  max: 1,
                })}
                {select('accountant', ACCOUNTANTS, ACCOUNTANT_LABELS)}
              </div>
              <EstimateBox estimate={estimate} problem={estimateInput && 'problem' in estimateInput ? estimateInput.problem : null} form={form} />
            </>
          )}
        </fieldset>

        <details
          className="card advanced"
          open={advancedOpen}
          onToggle={(e) => setAdvancedOpen((e.currentTarget as HTMLDetailsElement).open)}
        >
          <summary>Advanced</summary>
          <div className="form-row">
            {numberInput('image_size', 'pixels per side', { min: 16, max: 1024, step: '1' })}
            {numberInput('holdout_fraction', 'per identity, never trained on', { min: 0, max: 0.5 })}
            {numberInput('momentum', undefined, { min: 0, max: 1 })}
            {numberInput('weight_decay', undefined, { min: 0 })}
            {numberInput('warmup_epochs', undefined, { min: 0 })}
          </div>
        </details>

        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || ready.length === 0}>
            {busy ? 'Starting…' : 'Start training'}
          </button>
          {submitted && Object.keys(validated.errors).length > 0 && (
            <span className="muted">Fix the fields marked above.</span>
          )}
        </div>
        <ErrorMessage error={generalError} />
      </form>
    </>
  );
}

function EstimateBox({ estimate, problem, form }: { estimate: Estimate; problem: string | null; form: TrainingForm }) {
  let body: ReactNode;
  if (problem) {
    body = <p className="muted">{problem}</p>;
  } else if (estimate.state === 'error') {
    body = (
      <div className="error" role="alert" data-testid="estimate-error">
        {estimate.error}
      </div>
    );
  } else if (estimate.state === 'done' || (estimate.state === 'pending' && estimate.last)) {
    const result = estimate.state === 'done' ? estimate.result : estimate.last!;
    const target = form.dp_mode === 'target';
    body = (
      <>
        <p className={`estimate-main${estimate.state === 'pending' ? ' estimate-stale' : ''}`} data-testid="epsilon-estimate">
          {target && <>Noise multiplier {formatNoise(result.noise_multiplier)} → </>}
          {estimateSummary(result)}
        </p>
        <p className="muted small">
          Sample rate {String(Number(result.sample_rate.toPrecision(3)))} per step
          {!target && result.epsilon === null && ' · a noise multiplier of 0 gives no privacy at all'}
          {estimate.state === 'pending' && ' · updating…'}
        </p>
      </>
    );
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
