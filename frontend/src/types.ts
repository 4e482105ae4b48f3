// Shapes of the JSON the Django API returns. Most come from the OpenAPI schema Django serves
// (drf-spectacular, generated into generated/apiSchema.d.ts by `make api-types`; a test fails
// when it is stale). What is written by hand here is what the schema cannot say: the inside of
// JSON fields and of answers the views build as plain dicts (the schema only says "object"),
// and the websocket events.
import type { components } from './generated/apiSchema';

// `readonly` in the schema means "the server sets it", not "never changed here": the client's
// copies are its own (a job follows its websocket events, a file its uploaded bytes).
type Writable<T> = T extends (infer U)[]
  ? Writable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: Writable<T[K]> }
    : T;
type Schemas = { [K in keyof components['schemas']]: Writable<components['schemas'][K]> };

export type User = Schemas['User'];

export type JobStatus = Schemas['JobStatusEnum'];

/** `params` and `result` are JSON fields (kind-specific). `progress` is 0..1. */
export type Job = Omit<Schemas['Job'], 'params' | 'result'> & {
  params: Record<string, unknown>;
  /** What the job returned; null until it succeeds. */
  result?: Record<string, unknown> | null;
};

export type JobEventKind = 'status' | 'progress' | 'log' | 'metric' | (string & {});

/** An event of a job (REST and websocket); `id` increases per job, `payload` is JSON. */
export type JobEvent = Omit<Schemas['JobEvent'], 'kind' | 'payload'> & {
  kind: JobEventKind;
  payload: Record<string, unknown>;
};

/** A page of any list (the schema names one per item type: PaginatedJobList, ...). */
export type Page<T> = Omit<Schemas['PaginatedJobList'], 'results'> & { results: T[] };

export type DatasetStatus = Schemas['Dataset']['status'];

export type DatasetFileRole = Schemas['RoleEnum'];

/** One file of a dataset, uploaded in chunks; `received` is where to resume. */
export type DatasetFile = Schemas['DatasetFile'];

/** `job` is the extraction job, once `finalize` was called. */
export type Dataset = Schemas['Dataset'] & {
  /** Not served yet; shown when the API adds it (e.g. [112, 112] or "112x112"). */
  image_size?: number[] | string | null;
};

export interface Identity {
  label: number;
  count: number;
  /** Absolute URLs of a few of the identity's images. */
  samples: string[];
}

/** `GET /api/datasets/<id>/identities/` (a plain dict in the view). */
export interface IdentityPage {
  count: number;
  results: Identity[];
}

export type GalleryStatus = Schemas['GalleryStatusEnum'];
export type GallerySource = Schemas['SourceEnum'];
export type GalleryMode = Schemas['GalleryModeEnum'];

/** The face embedder a gallery was enrolled with (a JSON field of the gallery). */
export interface Embedder {
  name: string;
  dim: number;
  /** Trained with a privacy guarantee; false for the public reference model, null if unknown. */
  private: boolean | null;
  source: string;
  /** Cosine score at or above which a match counts; null if unknown. */
  default_threshold: number | null;
  /** Score rule: absent or "cosine", or "euclidean" (dlib's rule: 1 − |q − g|²/2 on scaled raw vectors). */
  score?: 'cosine' | 'euclidean';
  /** The registry model (null: the reference embedder, or a deleted model). */
  model?: { id: number; name: string } | null;
  model_name?: string | null;
  privacy?: EmbedderPrivacy | null;
}

/** Privacy of an embedder's weights: ε, δ and the DP unit from the model card. */
export interface EmbedderPrivacy {
  private: boolean;
  epsilon: number | null;
  delta: number | null;
  unit: string | null;
  accountant: string | null;
  note?: string;
}

/** Rates of an open-set threshold, estimated from the gallery's own score samples. */
export interface ThresholdRates {
  fpir: number | null;
  /** 95 % upper bound of the FPIR. */
  fpir_upper: number | null;
  fnir: number | null;
  /** Background photos (people not enrolled) matched, measured. */
  stranger_fpir: number | null;
}

/** A gallery's calibrated open-set threshold (calibration.py; a JSON field). */
export interface GalleryCalibration extends Partial<ThresholdRates> {
  threshold: number | null;
  method: 'calibrated' | 'tail fit' | 'default' | (string & {});
  fpir_target: number;
  far_target?: number;
  impostor_pairs?: number;
  genuine_pairs?: number;
  strangers?: number;
  gallery_size?: number;
  /** The owner's threshold and its estimated rates. */
  override?: ThresholdRates & { threshold: number };
}

/** `job` is the latest enrollment job; `model` the registry model it embeds with (null: the
 * reference embedder); `skipped` counts photos left out (no face, unreadable), cumulative. */
export type Gallery = Omit<Schemas['Gallery'], 'embedder' | 'calibration'> & {
  embedder: Embedder;
  calibration: GalleryCalibration | Record<string, never>;
};

/** 201/202 answer of creating a gallery or adding photos (a plain dict in the view). */
export interface GalleryCreated {
  gallery: Gallery;
  job: Job | null;
}

export interface SearchMatch {
  identity: string;
  score: number;
  /** Same-origin URL of the identity's aligned crop (owner only). */
  thumbnail: string;
}

/** Sizes (bytes) and timings (seconds) of one encrypted search. */
export interface SearchServerStats {
  upload_bytes: number;
  context_bytes: number;
  response_bytes: number;
  shards: number;
  server_seconds: number;
  server_prepare_seconds?: number;
  server_cached?: boolean;
  client_embed_seconds: number;
  client_encrypt_seconds: number;
  wait_seconds: number;
  client_decrypt_seconds: number;
  total_seconds: number;
}

/** Answer of a web search (a plain dict in the view). */
export interface SearchResult {
  gallery: { id: number; name: string; version: number };
  /** Best first, one per identity, only those at or above the threshold. */
  matches: SearchMatch[];
  matched: boolean;
  threshold: number;
  top_k: number;
  aligned: boolean;
  faces_found: number;
  /** data: URL of the 112×112 crop that was embedded. */
  aligned_crop: string;
  embedder: Embedder;
  calibration?: GalleryCalibration | Record<string, never>;
  server: SearchServerStats;
  audit_id: number;
}

export type Accountant = Schemas['AccountantEnum'];

/** Answer of `POST /api/privacy/` (a plain dict in the view). */
export interface PrivacyEstimate {
  /** null: infinite (no noise). */
  epsilon: number | null;
  noise_multiplier: number;
  delta: number;
  accountant: Accountant;
  steps: number;
  sample_rate: number;
}

/** Body of `POST /api/privacy/`: give noise_multiplier or target_epsilon, and either
 * num_examples or a dataset whose training images the server counts. */
export type PrivacyQuery = Schemas['PrivacyQuery'];

/** `config` of `POST /api/training/` (every field optional; the server has defaults). The
 * schema has `config` as an open object: TrainConfig checks it, not a serializer. */
export interface TrainingConfig {
  use_dp?: boolean;
  noise_multiplier?: number | null;
  target_epsilon?: number | null;
  l2_norm_clip?: number;
  delta?: number;
  accountant?: Accountant;
  epochs?: number;
  batch_size?: number;
  model?: string;
  head?: string;
  embedding_size?: number;
  optimizer?: string;
  lr?: number;
  lr_schedule?: string;
  lr_steps?: number[];
  momentum?: number;
  weight_decay?: number;
  warmup_epochs?: number;
  image_size?: number;
  holdout_fraction?: number;
}

/** `result` of a succeeded `train` job. */
export interface TrainingResult {
  model_id: number;
  epsilon: number | null;
  stopped: 'completed' | 'privacy_budget' | (string & {});
  epochs_completed: number;
}

/** A row of the model registry (`GET /api/models/`): `dataset` is null once the dataset was
 * deleted, `ready` says it has an exported backbone a gallery can embed with. */
export type TrainedModel = Omit<Schemas['TrainedModel'], 'galleries'> & {
  /** Galleries that embed with it (deleting the model asks first). */
  galleries: { id: number; name: string }[];
};

/** The model card JSON (sections are plain objects; unknown keys are shown as they come). */
export interface ModelCard {
  model?: Record<string, unknown>;
  data?: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  training?: Record<string, unknown>;
  dp?: Record<string, unknown> & { enabled?: boolean };
  verification?: Record<string, unknown> | null;
  membership_inference?: Record<string, unknown> | null;
  caveats?: string[];
  warnings?: string[];
  [section: string]: unknown;
}

export type TrainedModelDetail = TrainedModel & { card: ModelCard };

export interface PrivacySpend {
  id: number;
  job: number | null;
  model: number | null;
  epsilon: number;
  delta: number;
  accountant: string;
  created_at: string;
}

/** `GET /api/datasets/<id>/privacy-ledger/` (a plain dict in the view). */
export interface PrivacyLedger {
  total: { epsilon: number; delta: number };
  entries: PrivacySpend[];
}

/** `GET /api/overview/`: the home page (a plain dict in the view). */
export interface Overview {
  jobs: { total: number; active: number; failed: number; recent: Job[] };
  datasets: { total: number; ready: number; recent: Dataset[] };
  models: { total: number; private: number; recent: TrainedModel[] };
  /** ε spent per dataset (runs on the same dataset add up), largest first. */
  privacy: { dataset: number; name: string; epsilon: number; delta: number; runs: number }[];
}
