import { ErrorMessage } from '../components/ErrorMessage';
import { ACCOUNTANT_LABELS, HEAD_LABELS, MODEL_LABELS, OPTIMIZER_LABELS } from '../components/formFields';
import { FEDERATED_LIMITS_URL, useLimits } from '../limits';
import {
  AdvancedSection,
  DatasetField,
  DpModeChoice,
  EstimateBox,
  RunFormActions,
  RunFormHeader,
} from '../components/RunFormParts';
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
import type { FederatedField, FederatedPrivacyEstimate, FederatedPrivacyQuery } from '../federated';
import { ACCOUNTANTS, formatDelta, formatEpsilon, formatNoise, HEADS, MODELS, OPTIMIZERS } from '../training';
import { useDebouncedEstimate } from '../useDebouncedEstimate';
import { fieldErrorsText, useRunForm } from '../useRunForm';
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

const estimateError = (err: unknown) =>
  fieldErrorsText(err, (f) => (isFederatedField(f) ? FEDERATED_LABELS[f as FederatedField] : undefined));

/** Start a federated run (simulated clients on a partitioned dataset, or SuperNodes). */
export function FederatedPage() {
  const limits = useLimits(FEDERATED_LIMITS_URL);
  const run = useRunForm({
    defaults: DEFAULT_FEDERATED_FORM,
    fieldOrder: FIELD_ORDER,
    advanced: ADVANCED,
    idOf: fieldId,
    labelOf: (f: FederatedField) => FEDERATED_LABELS[f],
    validate: (f, d) => validateFederatedForm(f, d, limits),
    start: (request) => startFederated(request.dataset, request.name, request.mode, request.config),
    placeError: placeFederatedError,
  });
  const { form, set, dataset } = run;
  const { describedBy, numberInput, select, textInput, errorLine } = run.kit;

  // ε estimate: fires (debounced) when an input of the estimate changes; not a polling loop.
  const estimateInput = federatedPrivacyQueryOf(form, dataset, limits);
  const queryKey = estimateInput && 'query' in estimateInput ? JSON.stringify(estimateInput.query) : null;
  const estimate = useDebouncedEstimate<FederatedPrivacyQuery, FederatedPrivacyEstimate>(
    queryKey,
    estimateFederatedPrivacy,
    estimateError,
  );

  const dp = form.dp_level !== 'none';
  const clients = Number(form.num_clients);

  return (
    <>
      <RunFormHeader current="federated" onRefresh={() => void run.loadDatasets()} />
      <p className="muted">
        Federated learning: the dataset is split among simulated clients; each round, the sampled clients train on their
        own images and only model updates reach the server, which averages them (FedAvg). Differential privacy bounds
        what the model reveals about one image of a client (sample level) or about a client’s whole dataset (client
        level).
      </p>
      <form className="training-form" onSubmit={run.onSubmit} noValidate aria-label="New federated run">
        <section className="card">
          <h2>Data and clients</h2>
          <div className="form-row">
            <DatasetField run={run} id={fieldId('dataset')} />
            {textInput('name', { maxLength: 200, placeholder: dataset ? `${dataset.name} federated model` : 'my model' })}
          </div>
          <ErrorMessage error={run.datasetsError} />
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
              <DpModeChoice name="fed-dp-mode" value={form.dp_mode} onChange={(mode) => set('dp_mode', mode)} />
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
              <EstimateBox estimate={estimate} problem={estimateInput && 'problem' in estimateInput ? estimateInput.problem : null}>
                {(result, stale) => <EstimateText result={result} stale={stale} target={form.dp_mode === 'target'} />}
              </EstimateBox>
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

        <AdvancedSection open={run.advancedOpen} onOpenChange={run.setAdvancedOpen}>
          {numberInput('min_clients', 'blank: half the clients per round', { min: 1, step: '1' })}
          {numberInput('image_size', 'pixels per side', { min: 16, max: 224, step: '1' })}
          {numberInput('holdout_fraction', 'per identity on each client', { min: 0, max: 0.5 })}
          {numberInput('momentum', undefined, { min: 0, max: 1 })}
          {numberInput('weight_decay', undefined, { min: 0 })}
          {numberInput('seed', 'blank: random', { min: 0, step: '1' })}
          {select('mode', MODES, MODE_LABELS)}
        </AdvancedSection>

        <RunFormActions
          label="Start federated run"
          busy={run.busy}
          disabled={run.ready.length === 0}
          fieldsInError={run.submitted && Object.keys(run.validated.errors).length > 0}
          error={run.generalError}
        />
      </form>
    </>
  );
}

function EstimateText({ result, stale, target }: { result: FederatedPrivacyEstimate; stale: boolean; target: boolean }) {
  const sizes = result.client_sizes ?? [];
  return (
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
}
