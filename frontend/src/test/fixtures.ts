import type { Dataset, Job, JobEvent } from '../types';

export function makeJob(overrides: Partial<Job> = {}): Job {
  return {
    id: 1,
    kind: 'selftest',
    status: 'queued',
    progress: 0,
    message: '',
    params: { steps: 20, step_seconds: 0.5 },
    error: '',
    attempts: 0,
    cancel_requested: false,
    created_at: '2025-01-01T12:00:00Z',
    started_at: null,
    finished_at: null,
    ...overrides,
  };
}

export function makeEvent(id: number, kind: string, payload: Record<string, unknown>, job = 1): JobEvent {
  return { id, job, kind, payload, time: '2025-01-01T12:00:01Z' };
}

export function makeDataset(overrides: Partial<Dataset> = {}): Dataset {
  return {
    id: 1,
    name: 'casia',
    status: 'uploading',
    extract_images: true,
    layout: '',
    images: 0,
    identities: 0,
    error: '',
    job: null,
    files: [],
    created_at: '2025-01-01T12:00:00Z',
    updated_at: '2025-01-01T12:00:00Z',
    ...overrides,
  };
}
