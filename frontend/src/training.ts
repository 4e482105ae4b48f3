// Training, privacy calculator and model registry: API calls, the training form's model
// (validation, the request body, server errors placed on fields) and formatting helpers.
import { api, ApiError } from './api';
import { parseBounded } from './limits';
import type { Limits } from './limits';
import type {
  Accountant,
  Dataset,
  Job,
  Page,
  PrivacyEstimate,
  PrivacyLedger,
  PrivacyQuery,
  TrainedModel,
  TrainedModelDetail,
  TrainingConfig,
} from './types';

export const estimatePrivacy = (query: PrivacyQuery) => api.post<PrivacyEstimate>('/api/privacy/', query);
export const startTraining = (dataset: number, name: string, config: TrainingConfig) =>
  api.post<Job>('/api/training/', { dataset, ...(name ? { name } : {}), config });
export const listModels = () => api.get<Page<TrainedModel>>('/api/models/');
export const getModel = (id: number) => api.get<TrainedModelDetail>(`/api/models/${id}/`);
/** Delete a model; `withGalleries`: also the galleries that embed with it (without it, those make a 409). */
export const deleteModel = (id: number, withGalleries = false) =>
  api.delete(`/api/models/${id}/${withGalleries ? '?delete_galleries=1' : ''}`);
export const modelDownloadUrl = (id: number) => `/api/models/${id}/download/`;
export const getPrivacyLedger = (datasetId: number) =>
  api.get<PrivacyLedger>(`/api/datasets/${datasetId}/privacy-ledger/`);

export const MODELS = ['mobilefacenet', 'iresnet18', 'iresnet50'] as const;
export const HEADS = ['arcface', 'cosface', 'softmax'] as const;
export const OPTIMIZERS = ['sgd', 'adam'] as const;
export const LR_SCHEDULES = ['constant', 'cosine', 'step'] as const;
export const ACCOUNTANTS: readonly Accountant[] = ['rdp', 'pld'];
/** The holdout the estimate assumes when the form's value is not usable. */
export const DEFAULT_HOLDOUT = 0.1;

export type DpMode = 'noise' | 'target';

/** The training form as typed (strings, so half-typed numbers survive). */
export interface TrainingForm {
  dataset: string;
  name: string;
  model: string;
  head: string;
  embedding_size: string;
  epochs: string;
  batch_size: string;
  optimizer: string;
  lr: string;
  lr_schedule: string;
  lr_steps: string;
  momentum: string;
  weight_decay: string;
  warmup_epochs: string;
  image_size: string;
  holdout_fraction: string;
  use_dp: boolean;
  dp_mode: DpMode;
  noise_multiplier: string;
  target_epsilon: string;
  l2_norm_clip: string;
  delta: string;
  accountant: Accountant;
}

export type FormField = keyof TrainingForm;
export type FormErrors = Partial<Record<FormField, string>>;

/** The engine's defaults (training/engine/config.py). */
export const DEFAULT_FORM: TrainingForm = {
  dataset: '',
  name: '',
  model: 'mobilefacenet',
  head: 'arcface',
  embedding_size: '512',
  epochs: '20',
  batch_size: '128',
  optimizer: 'sgd',
  lr: '0.1',
  lr_schedule: 'cosine',
  lr_steps: '',
  momentum: '0.9',
  weight_decay: '0.0005',
  warmup_epochs: '0',
  image_size: '112',
  holdout_fraction: '0.1',
  use_dp: false,
  dp_mode: 'noise',
  noise_multiplier: '1.0',
  target_epsilon: '8',
  l2_norm_clip: '1.0',
  delta: '1e-5',
  accountant: 'rdp',
};

const FORM_FIELDS = new Set<string>(Object.keys(DEFAULT_FORM));

/** The number in `raw` checked against the server's range for `field` (none while `limits` load), or an error message. */
export function parseNumberField(field: FormField, raw: string, limits: Limits | null = null): number | string {
  return parseBounded(limits?.[field], raw);
}

/** Training examples of a dataset after the holdout (what the privacy estimate counts). */
export function numExamples(images: number, holdout: number): number {
  return Math.floor(images * (1 - holdout));
}

function holdoutOf(form: TrainingForm, limits: Limits | null): number {
  const h = parseNumberField('holdout_fraction', form.holdout_fraction, limits);
  return typeof h === 'number' ? h : DEFAULT_HOLDOUT;
}

export interface Validated {
  errors: FormErrors;
  /** Set when there are no errors. */
  request?: { dataset: number; name: string; config: TrainingConfig };
}

/** Check every field (the numbers against the server's `limits`); on success, the body of `POST /api/training/`. */
export function validateTrainingForm(
  form: TrainingForm,
  dataset: Dataset | null | undefined,
  limits: Limits | null = null,
): Validated {
  const errors: FormErrors = {};
  const num = (field: FormField): number => {
    const v = parseNumberField(field, String(form[field]), limits);
    if (typeof v === 'string') {
      errors[field] = v;
      return NaN;
    }
    return v;
  };

  if (!form.dataset) errors.dataset = 'Choose a ready dataset.';
  else if (dataset && dataset.status !== 'ready') errors.dataset = `This dataset is ${dataset.status}, not ready.`;
  const name = form.name.trim();
  if (name.length > 200) errors.name = 'At most 200 characters.';
  if (!(MODELS as readonly string[]).includes(form.model)) errors.model = 'Choose a model.';
  if (!(HEADS as readonly string[]).includes(form.head)) errors.head = 'Choose a head.';
  if (!(OPTIMIZERS as readonly string[]).includes(form.optimizer)) errors.optimizer = 'Choose an optimizer.';
  if (!(LR_SCHEDULES as readonly string[]).includes(form.lr_schedule)) errors.lr_schedule = 'Choose a schedule.';

  const config: TrainingConfig = {
    model: form.model,
    head: form.head,
    embedding_size: num('embedding_size'),
    epochs: num('epochs'),
    batch_size: num('batch_size'),
    optimizer: form.optimizer,
    lr: num('lr'),
    lr_schedule: form.lr_schedule,
    momentum: num('momentum'),
    weight_decay: num('weight_decay'),
    warmup_epochs: num('warmup_epochs'),
    image_size: num('image_size'),
    holdout_fraction: num('holdout_fraction'),
    use_dp: form.use_dp,
  };
  const epochs = config.epochs!;
  if (Number.isFinite(epochs) && !errors.warmup_epochs && config.warmup_epochs! > epochs) {
    errors.warmup_epochs = `Must be at most the number of epochs (${epochs}).`;
  }
  if (dataset && !errors.batch_size && !errors.holdout_fraction && dataset.images > 0) {
    const n = numExamples(dataset.images, config.holdout_fraction!);
    if (config.batch_size! > n) {
      errors.batch_size = `Must not exceed the ${n.toLocaleString('en-US')} training images of the dataset.`;
    }
  }
  if (form.lr_schedule === 'step') {
    const parts = form.lr_steps.split(/[\s,]+/).filter(Boolean);
    const steps = parts.map(Number);
    if (parts.length === 0) {
      errors.lr_steps = 'Give the epochs after which the learning rate drops ×0.1, e.g. 10, 15.';
    } else if (steps.some((e) => !Number.isInteger(e) || e < 1 || (Number.isFinite(epochs) && e >= epochs))) {
      errors.lr_steps = Number.isFinite(epochs)
        ? `Whole epochs from 1 to ${epochs - 1}, separated by commas.`
        : 'Whole epochs, separated by commas.';
    } else {
      config.lr_steps = [...new Set(steps)].sort((a, b) => a - b);
    }
  }
  if (form.use_dp) {
    if (form.dp_mode === 'noise') config.noise_multiplier = num('noise_multiplier');
    else config.target_epsilon = num('target_epsilon');
    config.l2_norm_clip = num('l2_norm_clip');
    config.delta = num('delta');
    config.accountant = form.accountant;
  }
  if (Object.keys(errors).length) return { errors };
  return { errors, request: { dataset: Number(form.dataset), name, config } };
}

/** Body of `POST /api/privacy/` for the form, or why there is none. */
export function privacyQueryOf(
  form: TrainingForm,
  dataset: Dataset | null | undefined,
  limits: Limits | null = null,
): { query: PrivacyQuery } | { problem: string } {
  if (!dataset) return { problem: 'Choose a dataset to see the privacy estimate.' };
  const holdout = holdoutOf(form, limits);
  const n = numExamples(dataset.images, holdout);
  if (n < 1) return { problem: 'The dataset has no training images.' };
  const fields: FormField[] = ['batch_size', 'epochs', 'delta', form.dp_mode === 'noise' ? 'noise_multiplier' : 'target_epsilon'];
  const values: Partial<Record<FormField, number>> = {};
  const bad: string[] = [];
  for (const f of fields) {
    const v = parseNumberField(f, String(form[f]), limits);
    if (typeof v === 'string') bad.push(FIELD_LABELS[f]);
    else values[f] = v;
  }
  if (bad.length) return { problem: `Fix ${bad.join(', ')} to see the privacy estimate.` };
  if (values.batch_size! > n) return { problem: `The batch size must not exceed the ${n.toLocaleString('en-US')} training images.` };
  // The server counts the dataset's training images exactly as training will (per-identity
  // holdout), so the estimate equals the ε the run later spends.
  const query: PrivacyQuery = {
    dataset: dataset.id,
    holdout_fraction: holdout,
    batch_size: values.batch_size!,
    epochs: values.epochs!,
    delta: values.delta!,
    accountant: form.accountant,
  };
  if (form.dp_mode === 'noise') query.noise_multiplier = values.noise_multiplier!;
  else query.target_epsilon = values.target_epsilon!;
  return { query };
}

export const FIELD_LABELS: Record<FormField, string> = {
  dataset: 'Dataset',
  name: 'Name',
  model: 'Model',
  head: 'Head',
  embedding_size: 'Embedding size',
  epochs: 'Epochs',
  batch_size: 'Batch size',
  optimizer: 'Optimizer',
  lr: 'Learning rate',
  lr_schedule: 'Schedule',
  lr_steps: 'LR drops after epochs',
  momentum: 'Momentum',
  weight_decay: 'Weight decay',
  warmup_epochs: 'Warmup epochs',
  image_size: 'Image size',
  holdout_fraction: 'Holdout fraction',
  use_dp: 'Differential privacy',
  dp_mode: 'DP mode',
  noise_multiplier: 'Noise multiplier',
  target_epsilon: 'Target ε',
  l2_norm_clip: 'Clipping norm',
  delta: 'δ',
  accountant: 'Accountant',
};

/** The config field a server message names (`"--epochs must be …"` → `epochs`). */
export function fieldOfDetail(detail: string): string | null {
  const m = /^--([a-z_][a-z0-9_]*)\b/i.exec(detail.trim());
  return m ? m[1] : null;
}

const isTrainingField = (name: string) => FORM_FIELDS.has(name) && name !== 'dp_mode';

/**
 * Where to show an error of `POST /api/training/` (or of another run form, given which names are
 * its fields): next to the fields it names, else above the button.
 */
export function placeServerError<F extends string = FormField>(
  err: unknown,
  isField: (name: string) => boolean = isTrainingField,
): { fields: Partial<Record<F, string>>; general: string | null } {
  const formFieldOf = (name: string | null): F | null => (name && isField(name) ? (name as F) : null);
  const fields: Partial<Record<F, string>> = {};
  const datasetField = 'dataset' as F;
  if (!(err instanceof ApiError)) return { fields, general: err instanceof Error ? err.message : String(err) };
  if (err.status === 404) {
    fields[datasetField] = 'Dataset not found (deleted, or not yours).';
    return { fields, general: null };
  }
  if (err.status === 409) {
    fields[datasetField] = err.message;
    return { fields, general: null };
  }
  const body = err.body as { detail?: unknown } | null;
  if (body && typeof body.detail === 'string') {
    const field = formFieldOf(fieldOfDetail(body.detail));
    if (field) {
      fields[field] = body.detail;
      return { fields, general: null };
    }
    return { fields, general: body.detail };
  }
  const leftover: string[] = [];
  for (const [name, msgs] of Object.entries(err.fieldErrors)) {
    const field = formFieldOf(name);
    if (field) fields[field] = msgs.join(' ');
    else leftover.push(name === 'non_field_errors' ? msgs.join(' ') : `${name}: ${msgs.join(' ')}`);
  }
  if (Object.keys(fields).length === 0 && leftover.length === 0) return { fields, general: err.message };
  return { fields, general: leftover.length ? leftover.join('; ') : null };
}

// ---- formatting ----

/** ε with two decimals (three significant digits when small); null is infinite. */
export function formatEpsilon(epsilon: number | null | undefined): string {
  if (epsilon === null) return '∞';
  if (epsilon === undefined || !Number.isFinite(epsilon)) return '—';
  if (epsilon !== 0 && Math.abs(epsilon) < 0.1) return String(Number(epsilon.toPrecision(3)));
  return epsilon.toFixed(2);
}

/** δ as `1e-5` when small. */
export function formatDelta(delta: number | null | undefined): string {
  if (delta === null || delta === undefined || !Number.isFinite(delta)) return '—';
  if (delta === 0) return '0';
  if (Math.abs(delta) < 1e-3) return Number(delta.toPrecision(4)).toExponential();
  return String(Number(delta.toPrecision(4)));
}

export function formatAccountant(a: string | null | undefined): string {
  return a ? a.toUpperCase() : '—';
}

/** 0..1 as a percentage with one decimal. */
export function formatPercent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(1)}%`;
}

export function formatAuc(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(3);
}

/** A noise multiplier with up to four significant digits. */
export function formatNoise(value: number): string {
  return String(Number(value.toPrecision(4)));
}

/** The one-line summary of a privacy estimate. */
export function estimateSummary(est: PrivacyEstimate): string {
  const steps = `${est.steps.toLocaleString('en-US')} steps`;
  const at = `at δ = ${formatDelta(est.delta)} (${formatAccountant(est.accountant)})`;
  return `ε = ${formatEpsilon(est.epsilon)} ${at}, ${steps}`;
}
