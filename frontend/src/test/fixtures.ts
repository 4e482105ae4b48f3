import type { Job, JobEvent } from '../types';

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
