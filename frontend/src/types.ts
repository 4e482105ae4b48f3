// Shapes of the JSON the Django API returns.

export interface User {
  id: number;
  username: string;
  is_staff: boolean;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Job {
  id: number;
  kind: string;
  status: JobStatus;
  /** 0..1 */
  progress: number;
  message: string;
  params: Record<string, unknown>;
  /** What the job returned (kind-specific); null until it succeeds. */
  result?: Record<string, unknown> | null;
  error: string;
  attempts: number;
  cancel_requested: boolean;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export type JobEventKind = 'status' | 'progress' | 'log' | 'metric' | (string & {});

export interface JobEvent {
  /** Increasing per job. */
  id: number;
  job: number;
  time: string;
  kind: JobEventKind;
  payload: Record<string, unknown>;
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export type DatasetStatus = 'uploading' | 'validating' | 'extracting' | 'ready' | 'failed';

export type DatasetFileRole = 'rec' | 'idx' | 'lst' | 'bin' | 'property';

/** One file of a dataset, uploaded in chunks; `received` is where to resume. */
export interface DatasetFile {
  id: number;
  role: DatasetFileRole;
  filename: string;
  size: number;
  sha256: string;
  received: number;
  complete: boolean;
  created_at: string;
}

export interface Dataset {
  id: number;
  name: string;
  status: DatasetStatus;
  extract_images: boolean;
  layout: string;
  images: number;
  identities: number;
  error: string;
  /** The extraction job, once `finalize` was called. */
  job: number | null;
  files: DatasetFile[];
  created_at: string;
  updated_at: string;
  /** Not served yet; shown when the API adds it (e.g. [112, 112] or "112x112"). */
  image_size?: number[] | string | null;
}

export interface Identity {
  label: number;
  count: number;
  /** Absolute URLs of a few of the identity's images. */
  samples: string[];
}

export interface IdentityPage {
  count: number;
  results: Identity[];
}

export type GalleryStatus = 'empty' | 'enrolling' | 'ready' | 'failed';
export type GallerySource = 'dataset' | 'images';
export type GalleryMode = 'mean' | 'all';

/** The face embedder a gallery was enrolled with. */
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

/** A gallery's calibrated open-set threshold (calibration.py). */
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

export interface Gallery {
  id: number;
  name: string;
  status: GalleryStatus;
  source: GallerySource;
  dataset: number | null;
  mode: GalleryMode;
  embedder: Embedder;
  dim: number;
  identities: number;
  templates: number;
  photos: number;
  /** Photos left out (no face, unreadable), cumulative. */
  skipped: number;
  error: string;
  /** The latest enrollment job. */
  job: number | null;
  version: number;
  he_profile: Record<string, unknown> | null;
  /** The registry model it embeds with; null: the reference embedder. */
  model: number | null;
  /** What a search uses by default: the owner's, else the calibrated, else the model's. */
  threshold: number | null;
  threshold_override: number | null;
  fpir_target: number;
  calibration: GalleryCalibration | Record<string, never>;
  created_at: string;
  updated_at: string;
}

/** 201/202 answer of creating a gallery or adding photos. */
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

export type Accountant = 'rdp' | 'pld';

/** Answer of `POST /api/privacy/`. */
export interface PrivacyEstimate {
  /** null: infinite (no noise). */
  epsilon: number | null;
  noise_multiplier: number;
  delta: number;
  accountant: Accountant;
  steps: number;
  sample_rate: number;
}

/** Body of `POST /api/privacy/`: give noise_multiplier or target_epsilon. */
export interface PrivacyQuery {
  /** Either num_examples, or a dataset whose training images the server counts. */
  num_examples?: number;
  dataset?: number;
  holdout_fraction?: number;
  batch_size: number;
  epochs: number;
  delta: number;
  accountant: Accountant;
  noise_multiplier?: number;
  target_epsilon?: number;
}

/** `config` of `POST /api/training/` (every field optional; the server has defaults). */
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

/** A row of the model registry (`GET /api/models/`). */
export interface TrainedModel {
  id: number;
  name: string;
  /** null once the dataset was deleted. */
  dataset: number | null;
  job: number | null;
  /** Trained with DP-SGD. */
  private: boolean;
  epsilon: number | null;
  delta: number | null;
  accountant: string;
  verification_accuracy: number | null;
  mia_auc: number | null;
  created_at: string;
  /** Has an exported backbone a gallery can embed with. */
  ready?: boolean;
  dp_unit?: string | null;
  /** Galleries that embed with it (deleting the model asks first). */
  galleries?: { id: number; name: string }[];
}

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

export interface TrainedModelDetail extends TrainedModel {
  card: ModelCard;
}

export interface PrivacySpend {
  id: number;
  job: number | null;
  model: number | null;
  epsilon: number;
  delta: number;
  accountant: string;
  created_at: string;
}

/** `GET /api/datasets/<id>/privacy-ledger/`. */
export interface PrivacyLedger {
  total: { epsilon: number; delta: number };
  entries: PrivacySpend[];
}

/** `GET /api/overview/`: the home page. */
export interface Overview {
  jobs: { total: number; active: number; failed: number; recent: Job[] };
  datasets: { total: number; ready: number; recent: Dataset[] };
  models: { total: number; private: number; recent: TrainedModel[] };
  /** ε spent per dataset (runs on the same dataset add up), largest first. */
  privacy: { dataset: number; name: string; epsilon: number; delta: number; runs: number }[];
}
