// Federated learning: API calls (start a run, estimate its ε), the federated form's model
// (validation, the request body, the estimate's body, server errors placed on fields) and the
// types of the federated job's events and result.
import { api } from './api';
import { parseBounded } from './limits';
import type { Limits } from './limits';
import { HEADS, MODELS, OPTIMIZERS, placeServerError } from './training';
import type { Accountant, Dataset, Job } from './types';

export type DpLevel = 'none' | 'sample' | 'client';
export type FederatedMode = 'simulation' | 'deployment';

/** `config` of `POST /api/federated/` and `/api/federated/privacy/` (all optional; server defaults). */
export interface FederatedConfig {
  num_clients?: number;
  num_rounds?: number;
  clients_per_round?: number;
  min_clients?: number;
  partition?: string;
  alpha?: number;
  head?: string;
  local_epochs?: number;
  model?: string;
  head_type?: string;
  embedding_size?: number;
  image_size?: number;
  batch_size?: number;
  optimizer?: string;
  lr?: number;
  momentum?: number;
  weight_decay?: number;
  use_dp?: boolean;
  dp_level?: DpLevel;
  noise_multiplier?: number;
  target_epsilon?: number;
  l2_norm_clip?: number;
  clipping?: string;
  delta?: number;
  accountant?: Accountant;
  secagg?: boolean;
  seed?: number;
  holdout_fraction?: number;
}

/** Body of `POST /api/federated/privacy/`. */
export interface FederatedPrivacyQuery {
  dataset: number;
  config: FederatedConfig;
}

/** Answer of `POST /api/federated/privacy/` (`epsilon: null, dp_level: "none"` without DP). */
export interface FederatedPrivacyEstimate {
  /** null: infinite (no noise), or no DP at all. */
  epsilon: number | null;
  noise_multiplier: number | null;
  dp_level: DpLevel;
  delta?: number;
  /** What ε protects: "one image of one client …" or "one client's whole dataset …". */
  unit?: string;
  rounds?: number;
  smallest_client?: number | null;
  client_sizes?: number[];
}

/** One client's row of a round (`metric` event `clients`). */
export interface FederatedClientRow {
  partition: number | string;
  examples?: number;
  identities?: number;
  steps?: number;
  seconds?: number;
  /** Rounds this client took part in so far. */
  rounds?: number;
  epsilon?: number | null;
  loss?: number;
  accuracy?: number;
  status: 'ok' | 'failed' | (string & {});
  reason?: string;
}

/** `result` of a finished `federated` job. */
export interface FederatedResult {
  model_id: number;
  epsilon: number | null;
  stopped: 'completed' | 'cancelled' | 'privacy_budget' | (string & {});
  rounds_completed: number;
  verification_accuracy: number | null;
}

export const startFederated = (dataset: number, name: string, mode: FederatedMode, config: FederatedConfig) =>
  api.post<Job>('/api/federated/', { dataset, ...(name ? { name } : {}), mode, config });
export const estimateFederatedPrivacy = (query: FederatedPrivacyQuery) =>
  api.post<FederatedPrivacyEstimate>('/api/federated/privacy/', query);

export const PARTITIONS = ['by_identity', 'iid', 'dirichlet'] as const;
export const HEAD_POLICIES = ['private', 'shared'] as const;
export const DP_LEVELS: readonly DpLevel[] = ['none', 'sample', 'client'];
export const CLIPPINGS = ['client', 'server'] as const;
export const MODES: readonly FederatedMode[] = ['simulation', 'deployment'];

/** The federated form as typed (strings, so half-typed numbers survive). Keys are the config's. */
export interface FederatedForm {
  dataset: string;
  name: string;
  mode: FederatedMode;
  num_clients: string;
  num_rounds: string;
  /** Blank: every client every round. */
  clients_per_round: string;
  /** Blank: half the sampled clients. */
  min_clients: string;
  partition: string;
  alpha: string;
  head: string;
  local_epochs: string;
  model: string;
  head_type: string;
  embedding_size: string;
  image_size: string;
  batch_size: string;
  optimizer: string;
  lr: string;
  momentum: string;
  weight_decay: string;
  dp_level: DpLevel;
  dp_mode: 'noise' | 'target';
  noise_multiplier: string;
  target_epsilon: string;
  l2_norm_clip: string;
  clipping: string;
  delta: string;
  accountant: Accountant;
  secagg: boolean;
  /** Blank: a random partition seed (0 for the estimate). */
  seed: string;
  holdout_fraction: string;
}

export type FederatedField = keyof FederatedForm;
export type FederatedErrors = Partial<Record<FederatedField, string>>;

/** The engine's defaults (federation/engine/config.py). */
export const DEFAULT_FEDERATED_FORM: FederatedForm = {
  dataset: '',
  name: '',
  mode: 'simulation',
  num_clients: '5',
  num_rounds: '10',
  clients_per_round: '',
  min_clients: '',
  partition: 'by_identity',
  alpha: '0.5',
  head: 'private',
  local_epochs: '1',
  model: 'mobilefacenet',
  head_type: 'arcface',
  embedding_size: '512',
  image_size: '112',
  batch_size: '32',
  optimizer: 'sgd',
  lr: '0.1',
  momentum: '0.9',
  weight_decay: '0.0005',
  dp_level: 'none',
  dp_mode: 'noise',
  noise_multiplier: '1.0',
  target_epsilon: '8',
  l2_norm_clip: '1.0',
  clipping: 'client',
  delta: '1e-5',
  accountant: 'rdp',
  secagg: false,
  seed: '',
  holdout_fraction: '0.1',
};

export const FEDERATED_LABELS: Record<FederatedField, string> = {
  dataset: 'Dataset',
  name: 'Name',
  mode: 'Clients run',
  num_clients: 'Clients',
  num_rounds: 'Rounds',
  clients_per_round: 'Clients per round',
  min_clients: 'Fewest replies per round',
  partition: 'Partition',
  alpha: 'Dirichlet α',
  head: 'Head policy',
  local_epochs: 'Local epochs',
  model: 'Model',
  head_type: 'Head',
  embedding_size: 'Embedding size',
  image_size: 'Image size',
  batch_size: 'Batch size',
  optimizer: 'Optimizer',
  lr: 'Learning rate',
  momentum: 'Momentum',
  weight_decay: 'Weight decay',
  dp_level: 'DP level',
  dp_mode: 'DP mode',
  noise_multiplier: 'Noise multiplier',
  target_epsilon: 'Target ε',
  l2_norm_clip: 'Clipping norm',
  clipping: 'Who clips updates',
  delta: 'δ',
  accountant: 'Accountant',
  secagg: 'Secure aggregation',
  seed: 'Seed',
  holdout_fraction: 'Holdout fraction',
};

const FIELDS = new Set<string>(Object.keys(DEFAULT_FEDERATED_FORM));
export const isFederatedField = (name: string) => FIELDS.has(name) && name !== 'dp_mode';

const oneOf = (options: readonly string[], value: string) => options.includes(value);

export interface FederatedValidated {
  errors: FederatedErrors;
  /** Set when there are no errors. */
  request?: { dataset: number; name: string; mode: FederatedMode; config: FederatedConfig };
}

/**
 * A reader of the form's numbers that records errors (blank optional fields are undefined), each
 * checked against the server's range for it (none while `limits` load).
 */
function reader(form: FederatedForm, errors: FederatedErrors, limits: Limits | null) {
  const num = (field: FederatedField): number => {
    const v = parseBounded(limits?.[field], String(form[field]));
    if (typeof v === 'string') {
      errors[field] = v;
      return NaN;
    }
    return v;
  };
  const optional = (field: FederatedField): number | undefined =>
    String(form[field]).trim() === '' ? undefined : num(field);
  return { num, optional };
}

/** Check every field; on success, the body of `POST /api/federated/`. */
export function validateFederatedForm(
  form: FederatedForm,
  dataset: Dataset | null | undefined,
  limits: Limits | null = null,
): FederatedValidated {
  const errors: FederatedErrors = {};
  const { num, optional } = reader(form, errors, limits);

  if (!form.dataset) errors.dataset = 'Choose a ready dataset.';
  else if (dataset && dataset.status !== 'ready') errors.dataset = `This dataset is ${dataset.status}, not ready.`;
  const name = form.name.trim();
  if (name.length > 200) errors.name = 'At most 200 characters.';
  if (!oneOf(MODES, form.mode)) errors.mode = 'Choose where the clients run.';
  if (!oneOf(MODELS, form.model)) errors.model = 'Choose a model.';
  if (!oneOf(HEADS, form.head_type)) errors.head_type = 'Choose a head.';
  if (!oneOf(OPTIMIZERS, form.optimizer)) errors.optimizer = 'Choose an optimizer.';
  if (!oneOf(PARTITIONS, form.partition)) errors.partition = 'Choose a partition.';
  if (!oneOf(HEAD_POLICIES, form.head)) errors.head = 'Choose a head policy.';
  if (!oneOf(DP_LEVELS, form.dp_level)) errors.dp_level = 'Choose a DP level.';

  const config: FederatedConfig = {
    num_clients: num('num_clients'),
    num_rounds: num('num_rounds'),
    partition: form.partition,
    head: form.head,
    local_epochs: num('local_epochs'),
    model: form.model,
    head_type: form.head_type,
    embedding_size: num('embedding_size'),
    image_size: num('image_size'),
    batch_size: num('batch_size'),
    optimizer: form.optimizer,
    lr: num('lr'),
    momentum: num('momentum'),
    weight_decay: num('weight_decay'),
    holdout_fraction: num('holdout_fraction'),
    dp_level: form.dp_level,
    secagg: form.secagg,
  };
  const clients = config.num_clients!;
  const perRound = form.clients_per_round.trim() === '' ? undefined : num('clients_per_round');
  if (perRound !== undefined && !errors.clients_per_round) {
    if (!Number.isInteger(perRound) || perRound < 1 || (Number.isFinite(clients) && perRound > clients)) {
      errors.clients_per_round = Number.isFinite(clients)
        ? `Must be a whole number from 1 to ${clients} (the clients), or blank for all.`
        : 'Must be a whole number of clients, or blank for all.';
    } else config.clients_per_round = perRound;
  }
  const sampled = perRound ?? clients;
  const fewest = form.min_clients.trim() === '' ? undefined : num('min_clients');
  if (fewest !== undefined && !errors.min_clients) {
    if (!Number.isInteger(fewest) || fewest < 1 || (Number.isFinite(sampled) && fewest > sampled)) {
      errors.min_clients = Number.isFinite(sampled)
        ? `Must be a whole number from 1 to ${sampled} (the clients per round), or blank.`
        : 'Must be a whole number of clients, or blank.';
    } else config.min_clients = fewest;
  }
  if (form.partition === 'dirichlet') config.alpha = num('alpha');
  const seed = optional('seed');
  if (seed !== undefined) config.seed = seed;

  if (form.dp_level !== 'none') {
    if (form.dp_mode === 'noise') config.noise_multiplier = num('noise_multiplier');
    else config.target_epsilon = num('target_epsilon');
    config.l2_norm_clip = num('l2_norm_clip');
    config.delta = num('delta');
    if (form.dp_level === 'sample') config.accountant = form.accountant;
    else {
      if (!oneOf(CLIPPINGS, form.clipping)) errors.clipping = 'Choose who clips the updates.';
      config.clipping = form.clipping;
      if (form.secagg && form.clipping !== 'client') {
        errors.clipping = 'Must be the clients with secure aggregation: the server never sees single updates.';
      }
    }
  }
  if (form.head === 'shared' && !errors.head) {
    if (form.partition !== 'iid') {
      errors.head = 'A shared head needs the IID partition (with disjoint identities it would carry every client’s class centres to every other).';
    } else if (form.dp_level === 'client') {
      errors.head = 'A shared head cannot be combined with client-level DP.';
    } else if (form.mode === 'deployment') {
      errors.head = 'A shared head needs simulated clients (SuperNodes’ identities differ).';
    }
  }
  if (Object.keys(errors).length) return { errors };
  return { errors, request: { dataset: Number(form.dataset), name, mode: form.mode, config } };
}

/** Body of `POST /api/federated/privacy/` for the form, null without DP, or why there is none. */
export function federatedPrivacyQueryOf(
  form: FederatedForm,
  dataset: Dataset | null | undefined,
  limits: Limits | null = null,
): { query: FederatedPrivacyQuery } | { problem: string } | null {
  if (form.dp_level === 'none') return null;
  if (!dataset) return { problem: 'Choose a dataset to see the privacy estimate.' };
  const errors: FederatedErrors = {};
  const { num, optional } = reader(form, errors, limits);
  const config: FederatedConfig = {
    num_clients: num('num_clients'),
    num_rounds: num('num_rounds'),
    partition: form.partition,
    dp_level: form.dp_level,
    delta: num('delta'),
    holdout_fraction: num('holdout_fraction'),
  };
  if (form.dp_mode === 'noise') config.noise_multiplier = num('noise_multiplier');
  else config.target_epsilon = num('target_epsilon');
  if (form.partition === 'dirichlet') config.alpha = num('alpha');
  const perRound = optional('clients_per_round');
  if (perRound !== undefined && !errors.clients_per_round) {
    if (!Number.isInteger(perRound) || perRound < 1 || perRound > config.num_clients!) errors.clients_per_round = 'bad';
    else config.clients_per_round = perRound;
  }
  const seed = optional('seed');
  if (seed !== undefined) config.seed = seed;
  if (form.dp_level === 'sample') {
    // Sample level: the smallest client's DP-SGD over its local epochs in every round.
    config.batch_size = num('batch_size');
    config.local_epochs = num('local_epochs');
    config.accountant = form.accountant;
  }
  const bad = Object.keys(errors) as FederatedField[];
  if (bad.length) return { problem: `Fix ${bad.map((f) => FEDERATED_LABELS[f]).join(', ')} to see the privacy estimate.` };
  return { query: { dataset: dataset.id, config } };
}

/** Where to show an error of `POST /api/federated/` (or of the estimate): at the field it names. */
export function placeFederatedError(err: unknown): { fields: FederatedErrors; general: string | null } {
  const placed = placeServerError<FederatedField>(err, isFederatedField);
  // "mode deployment needs FLOWER_SUPERLINK set on the server": no `--`, but about the mode.
  if (placed.general && /^mode\b/.test(placed.general)) {
    return { fields: { ...placed.fields, mode: placed.general }, general: null };
  }
  return placed;
}

/** What ε protects at a DP level (the estimate's `unit` when it has one). */
export function unitOf(level: DpLevel | string | undefined, unit?: string | null): string {
  if (unit) return unit;
  if (level === 'client') return "one client's whole dataset (user-level DP)";
  if (level === 'sample') return 'one image of one client (example-level DP)';
  return 'nothing: no differential privacy';
}
