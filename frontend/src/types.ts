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
