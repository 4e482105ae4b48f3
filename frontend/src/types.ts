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
