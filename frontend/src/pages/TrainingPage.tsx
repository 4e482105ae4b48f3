import { ErrorMessage } from '../components/ErrorMessage';
import {
  AdvancedSection,
  DatasetField,
  DpModeChoice,
  EstimateBox,
  RunFormActions,
  RunFormHeader,
} from '../components/RunFormParts';
import { ACCOUNTANT_LABELS, HEAD_LABELS, MODEL_LABELS, OPTIMIZER_LABELS } from '../components/formFields';
import { TRAINING_LIMITS_URL, useLimits } from '../limits';
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
import type { FormField } from '../training';
import type { PrivacyEstimate, PrivacyQuery } from '../types';
import { useDebouncedEstimate } from '../useDebouncedEstimate';
import { fieldErrorsText, useRunForm } from '../useRunForm';

/** Wait this long after the last edit before asking the server for ε. */
export { ESTIMATE_DEBOUNCE_MS } from '../useDebouncedEstimate';

const ADVANCED: FormField[] = ['image_size', 'holdout_fraction', 'momentum', 'weight_decay', 'warmup_epochs'];
const FIELD_ORDER: FormField[] = [
  'dataset', 'name', 'model', 'head', 'embedding_size', 'epochs', 'batch_size', 'optimizer', 'lr', 'lr_schedule',
  'lr_steps', 'use_dp', 'noise_multiplier', 'target_epsilon', 'l2_norm_clip', 'delta', 'accountant', ...ADVANCED,
];

const SCHEDULE_LABELS: Record<string, string> = { constant: 'constant', cosine: 'cosine decay', step: 'step (×0.1 drops)' };

const fieldId = (f: FormField) => `train-${f.replace(/_/g, '-')}`;

const estimateError = (err: unknown) => fieldErrorsText(err, (f) => FIELD_LABELS[f as FormField]);

/** Start a centralized training run (optionally with DP-SGD) on a ready dataset. */
export function TrainingPage() {
  const limits = useLimits(TRAINING_LIMITS_URL);
  const run = useRunForm({
    defaults: DEFAULT_FORM,
    fieldOrder: FIELD_ORDER,
    advanced: ADVANCED,
    idOf: fieldId,
    labelOf: (f: FormField) => FIELD_LABELS[f],
    validate: (f, d) => validateTrainingForm(f, d, limits),
    start: (request) => startTraining(request.dataset, request.name, request.config),
    placeError: placeServerError,
  });
  const { form, set, dataset, validated } = run;
  const { describedBy, numberInput, select, textInput, errorLine } = run.kit;

  // ε estimate: fires (debounced) when an input of the estimate changes; not a polling loop.
  const estimateInput = form.use_dp ? privacyQueryOf(form, dataset, limits) : null;
  const queryKey = estimateInput && 'query' in estimateInput ? JSON.stringify(estimateInput.query) : null;
  const estimate = useDebouncedEstimate<PrivacyQuery, PrivacyEstimate>(queryKey, estimatePrivacy, estimateError);

  const holdout = typeof validated.request?.config.holdout_fraction === 'number' ? validated.request.config.holdout_fraction : null;
  const trainImages = dataset ? numExamples(dataset.images, holdout ?? 0.1) : null;

  return (
    <>
      <RunFormHeader current="centralized" onRefresh={() => void run.loadDatasets()} />
      <p className="muted">
        Train a face-embedding model on one of your ready datasets, optionally with differential privacy (DP-SGD). The
        run is queued on a GPU worker; its job page shows the loss, accuracy and privacy spent as it goes.
      </p>
      <form className="training-form" onSubmit={run.onSubmit} noValidate aria-label="New training run">
        <section className="card">
          <h2>Data and model</h2>
          <div className="form-row">
            <DatasetField run={run} id={fieldId('dataset')} />
            {textInput('name', { maxLength: 200, placeholder: dataset ? `${dataset.name} model` : 'my model' })}
          </div>
          <ErrorMessage error={run.datasetsError} />
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
              <DpModeChoice name="dp-mode" value={form.dp_mode} onChange={(mode) => set('dp_mode', mode)} />
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
              <EstimateBox estimate={estimate} problem={estimateInput && 'problem' in estimateInput ? estimateInput.problem : null}>
                {(result, stale) => <EstimateText result={result} stale={stale} target={form.dp_mode === 'target'} />}
              </EstimateBox>
            </>
          )}
        </fieldset>

        <AdvancedSection open={run.advancedOpen} onOpenChange={run.setAdvancedOpen}>
          {numberInput('image_size', 'pixels per side', { min: 16, max: 1024, step: '1' })}
          {numberInput('holdout_fraction', 'per identity, never trained on', { min: 0, max: 0.5 })}
          {numberInput('momentum', undefined, { min: 0, max: 1 })}
          {numberInput('weight_decay', undefined, { min: 0 })}
          {numberInput('warmup_epochs', undefined, { min: 0 })}
        </AdvancedSection>

        <RunFormActions
          label="Start training"
          busy={run.busy}
          disabled={run.ready.length === 0}
          fieldsInError={run.submitted && Object.keys(validated.errors).length > 0}
          error={run.generalError}
        />
      </form>
    </>
  );
}

function EstimateText({ result, stale, target }: { result: PrivacyEstimate; stale: boolean; target: boolean }) {
  return (
    <>
      <p className={`estimate-main${stale ? ' estimate-stale' : ''}`} data-testid="epsilon-estimate">
        {target && <>Noise multiplier {formatNoise(result.noise_multiplier)} → </>}
        {estimateSummary(result)}
      </p>
      <p className="muted small">
        Sample rate {String(Number(result.sample_rate.toPrecision(3)))} per step
        {!target && result.epsilon === null && ' · a noise multiplier of 0 gives no privacy at all'}
        {stale && ' · updating…'}
      </p>
    </>
  );
}
