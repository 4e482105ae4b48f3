import { useCallback, useEffect, useMemo, useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { ACCOUNTANT_LABELS, fieldKit, HEAD_LABELS, MODEL_LABELS, OPTIMIZER_LABELS } from '../components/formFields';
import { TrainingModeSwitch } from '../components/TrainingModeSwitch';
import { listDatasets } from '../datasets';
import {
  CLIPPINGS,
  DEFAULT_FEDERATED_FORM,
  DP_LEVELS,
  estimateFederatedPrivacy,
  FEDERATED_LABELS,
  federatedPrivacyQueryOf,
  HEAD_POLICIES,
  isFederatedField,
  MODES,
  PARTITIONS,
  placeFederatedError,
  startFederated,
  unitOf,
  validateFederatedForm,
} from '../federated';
import type {
  FederatedErrors,
  FederatedField,
  FederatedForm,
  FederatedPrivacyEstimate,
  FederatedPrivacyQuery,
} from '../federated';
import { ACCOUNTANTS, formatDelta, formatEpsilon, formatNoise, HEADS, MODELS, OPTIMIZERS } from '../training';
import type { Dataset } from '../types';
import { useDebouncedEstimate } from '../useDebouncedEstimate';
import type { Estimate as EstimateOf } from '../useDebouncedEstimate';
import '../federated.css';

const ADVANCED: FederatedField[] = ['min_clients', 'image_size', 'momentum', 'weight_decay', 'holdout_fraction', 'seed', 'mode'];
const FIELD_ORDER: FederatedField[] = [
  'dataset', 'name', 'num_clients', 'num_rounds', 'clients_per_round', 'partition', 'alpha', 'head', 'local_epochs',
  'model', 'head_type', 'embedding_size', 'batch_size', 'optimizer', 'lr', 'dp_level', 'noise_multiplier',
  'target_epsilon', 'l2_norm_clip', 'clipping', 'delta', 'accountant', 'secagg', ...ADVANCED,
];

const PARTITION_LABELS: Record<string, string> = {
  by_identity: 'by identity (each client its own people)',
  iid: 'IID (images shuffled among clients)',
  dirichlet: 'Dirichlet (skewed label mix)',
};
const HEAD_POLICY_LABELS: Record<string, string> = {
  private: 'private (each client keeps its head)',
  shared: 'shared (averaged per identity; IID only)',
};
const DP_LEVEL_LABELS: Record<string, string> = {
  none: 'none',
  sample: 'sample level (DP-SGD on each client)',
  client: 'client level (noisy aggregation)',
};
const CLIPPING_LABELS: Record<string, string> = { client: 'the clients', server: 'the server' };
const MODE_LABELS: Record<string, string> = {
  simulation: 'simulated, on the server',
  deployment: 'on SuperNodes (deployment)',
};

const fieldId = (f: FederatedField) => `fed-${f.replace(/_/g, '-')}`;

type Estimate = EstimateOf<FederatedPrivacyEstimate, FederatedPrivacyQuery>;

function estimateError(err: unknown): string {
  if (err instanceof ApiError && Object.keys(err.fieldErrors).length) {
    return Object.entries(err.fieldErrors)
      .map(([f, msgs]) => `${isFederatedField(f) ? FEDERATED_LABELS[f as FederatedField] : f}: ${msgs.join(' ')}`)
      .join('; ');
  }
  return messageOf(err);
}

/** Start a federated run (simulated clients on a partitioned dataset, or SuperNodes). */
export function FederatedPage() {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [datasetsError, setDatasetsError] = useState<string | null>(null);
  const [form, setForm] = useState<FederatedForm>(() => ({ ...DEFAULT_FEDERATED_FORM, dataset: params.get('dataset') ?? '' }));
  const [touched, setTouched] = useState<ReadonlySet<FederatedField>>(new Set());
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FederatedErrors>({});
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
  useEffect(() => {
    if (ready.length && !form.dataset) setForm((f) => (f.dataset ? f : { ...f, dataset: String(ready[0].id) }));
  }, [ready, form.dataset]);
  const dataset = datasets?.find((d) => String(d.id) === form.dataset) ?? null;

  const validated = validateFederatedForm(form, dataset);
  const shownError = (f: FederatedField): string | undefined =>
    serverErrors[f] ?? (submitted || touched.has(f) ? validated.errors[f] : undefined);

  // ε estimate: fires (debounced) when an input of the estimate changes; not a polling loop.
  const estimateInput = federatedPrivacyQueryOf(form, dataset);
  const queryKey = estimateInput && 'query' in estimateInput ? JSON.stringify(estimateInput.query) : null;
  const estimate = useDebouncedEstimate<FederatedPrivacyQuery, FederatedPrivacyEstimate>(
    queryKey,
    estimateFederatedPrivacy,
    estimateError,
  );

  function set<K extends FederatedField>(field: K, value: FederatedForm[K]) {
    setForm((f) => ({ ...f, [field]: value }));
    if (serverErrors[field]) setServerErrors(({ [field]: _, ...rest }) => rest);
  }
  const touch = (field: FederatedField) => setTouched((t) => (t.has(field) ? t : new Set(t).add(field)));

  function focusFirst(errors: FederatedErrors) {
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
    const { errors, request } = validateFederatedForm(form, dataset);
    if (!request) {
      if (ADVANCED.some((f) => errors[f])) setAdvancedOpen(true);
      focusFirst(errors);
      return;
    }
    setBusy(true);
    try {
      const job = await startFederated(request.dataset, request.name, request.mode, request.config);
      navigate(`/jobs/${job.id}`);
    } catch (err) {
      const placed = placeFederatedError(err);
      setServerErrors(placed.fields);
      setGeneralError(placed.general);
      if (ADVANCED.some((f) => placed.fields[f])) setAdvancedOpen(true);
      focusFirst(placed.fields);
      setBusy(false);
    }
  }

  const { describedBy, field, numberInput, select, textInput, errorLine } = fieldKit<FederatedField>({
    idOf: fieldId,
    labelOf: (f) => FEDERATED_LABELS[f],
    valueOf: (f) => String(form[f]),
    set: (f, value) => set(f, value as never),
    touch,
    errorOf: shownError,
  });

  const dp = form.dp_level !== 'none';
  const clients = Number(form.num_clients);

  return (
    <>
      <div className="page-header">
        <h1>Training</h1>
        <button type="button" className="btn btn-ghost" onClick={() => void load()}>
          Refresh datasets
        </button>
      </div>
      <TrainingModeSwitch current="federated" />
      <p className="muted">
        Federated learning: the dataset is split among simulated clients; each round, the sampled clients train on their
        own images and only model updates reach the server, which averages them (FedAvg). Differential privacy bounds
        what the model reveals about one image of a client (sample level) or about a client’s whole dataset (client
        level).
      </p>
      <form className="training-form" onSubmit={onSubmit} noValidate aria-label="New federated run">
        <section className="card">
          <h2>Data and clients</h2>
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
            {textInput('name', { maxLength: 200, placeholder: dataset ? `${dataset.name} federated model` : 'my model' })}
          </div>
          <ErrorMessage error={datasetsError} />
          <div className="form-row">
            {numberInput('num_clients', undefined, { min: 2, max: 1000, step: '1' })}
            {numberInput('num_rounds', undefined, { min: 1, max: 1000, step: '1' })}
            {numberInput('clients_per_round', Number.isInteger(clients) ? `blank: all ${clients}` : 'blank: all', {
              min: 1,
              step: '1',
            })}
            {numberInput('local_epochs', 'per round, on each client', { min: 1, max: 100, step: '1' })}
          </div>
          <div className="form-row">
            {select('partition', PARTITIONS, PARTITION_LABELS)}
            {form.partition === 'dirichlet' && numberInput('alpha', 'smaller: more skewed', { min: 0 })}
            {select('head', HEAD_POLICIES, HEAD_POLICY_LABELS)}
          </div>
        </section>

        <section className="card">
          <h2>Model and local optimisation</h2>
          <div className="form-row">
            {select('model', MODELS, MODEL_LABELS)}
            {select('head_type', HEADS, HEAD_LABELS)}
            {numberInput('embedding_size', undefined, { min: 8, max: 2048, step: '1' })}
          </div>
          <div className="form-row">
            {numberInput('batch_size', form.dp_level === 'sample' ? 'expected (Poisson) batch' : undefined, {
              min: 1,
              step: '1',
            })}
            {select('optimizer', OPTIMIZERS, OPTIMIZER_LABELS)}
            {numberInput('lr', undefined, { min: 0 })}
          </div>
        </section>

        <fieldset className="card dp-section" aria-describedby="fed-dp-explainer">
          <legend className="visually-hidden">Privacy</legend>
          <h2 aria-hidden="true">Privacy</h2>
          <div className="form-row">
            {select('dp_level', DP_LEVELS, DP_LEVEL_LABELS, dp ? `ε protects ${unitOf(form.dp_level)}` : undefined)}
          </div>
          <p className="muted small" id="fed-dp-explainer">
            Sample level: each client runs DP-SGD (per-image clipping and noise); ε bounds what the model reveals about
            one image of one client. Client level: the server clips each client’s update and adds noise to the average;
            ε bounds what it reveals about one client’s whole dataset.
          </p>
          {dp && (
            <>
              <div className="source-choice" role="radiogroup" aria-label="DP mode">
                <label className="radio">
                  <input
                    type="radio"
                    name="fed-dp-mode"
                    checked={form.dp_mode === 'noise'}
                    onChange={() => set('dp_mode', 'noise')}
                  />
                  noise multiplier
                </label>
                <label className="radio">
                  <input
                    type="radio"
                    name="fed-dp-mode"
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
                {numberInput('l2_norm_clip', form.dp_level === 'sample' ? 'per-image gradient norm' : 'per-client update norm', {
                  min: 0,
                })}
                {numberInput('delta', undefined, { min: 0, max: 1 })}
                {form.dp_level === 'sample'
                  ? select('accountant', ACCOUNTANTS, ACCOUNTANT_LABELS)
                  : select('clipping', CLIPPINGS, CLIPPING_LABELS)}
              </div>
              <EstimateBox
                estimate={estimate}
                problem={estimateInput && 'problem' in estimateInput ? estimateInput.problem : null}
                target={form.dp_mode === 'target'}
              />
            </>
          )}
          <label className="checkbox secagg">
            <input
              type="checkbox"
              id={fieldId('secagg')}
              checked={form.secagg}
              onChange={(e) => set('secagg', e.target.checked)}
              aria-describedby={describedBy('secagg')}
            />
            Secure aggregation (SecAgg+: the server sees only the sum of the updates)
          </label>
          {errorLine('secagg')}
        </fieldset>

        <details
          className="card advanced"
          open={advancedOpen}
          onToggle={(e) => setAdvancedOpen((e.currentTarget as HTMLDetailsElement).open)}
        >
          <summary>Advanced</summary>
          <div className="form-row">
            {numberInput('min_clients', 'blank: half the clients per round', { min: 1, step: '1' })}
            {numberInput('image_size', 'pixels per side', { min: 16, max: 224, step: '1' })}
            {numberInput('holdout_fraction', 'per identity on each client', { min: 0, max: 0.5 })}
            {numberInput('momentum', undefined, { min: 0, max: 1 })}
            {numberInput('weight_decay', undefined, { min: 0 })}
            {numberInput('seed', 'blank: random', { min: 0, step: '1' })}
            {select('mode', MODES, MODE_LABELS)}
          </div>
        </details>

        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || ready.length === 0}>
            {busy ? 'Starting…' : 'Start federated run'}
          </button>
          {submitted && Object.keys(validated.errors).length > 0 && <span className="muted">Fix the fields marked above.</span>}
        </div>
        <ErrorMessage error={generalError} />
      </form>
    </>
  );
}

function EstimateBox({ estimate, problem, target }: { estimate: Estimate; problem: string | null; target: boolean }) {
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
    const stale = estimate.state === 'pending';
    const sizes = result.client_sizes ?? [];
    body = (
      <>
        <p className={`estimate-main${stale ? ' estimate-stale' : ''}`} data-testid="epsilon-estimate">
          {target && result.noise_multiplier !== null && <>Noise multiplier {formatNoise(result.noise_multiplier)} → </>}
          ε = {formatEpsilon(result.epsilon)}
          {result.delta !== undefined && <> at δ = {formatDelta(result.delta)}</>}
          {result.rounds !== undefined && <>, {result.rounds.toLocaleString('en-US')} rounds</>}
        </p>
        <p className="muted small" data-testid="estimate-unit">
          protects <span className="dp-unit">{unitOf(result.dp_level, result.unit)}</span>
          {stale && ' · updating…'}
        </p>
        {sizes.length > 0 && (
          <p className="muted small" data-testid="estimate-clients">
            {sizes.length} clients of {Math.min(...sizes).toLocaleString('en-US')}–{Math.max(...sizes).toLocaleString('en-US')}{' '}
            training images
            {result.dp_level === 'sample' && typeof result.smallest_client === 'number' && ' (the smallest one sets ε)'}
          </p>
        )}
        {!target && result.epsilon === null && <p className="muted small">A noise multiplier of 0 gives no privacy at all.</p>}
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
