// Job API calls and helpers shared by the job pages.
import { api } from './api';
import type { Job, JobEvent, JobStatus, Page } from './types';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const listJobs = () => api.get<Page<Job>>('/api/jobs/');
export const getJob = (id: number) => api.get<Job>(`/api/jobs/${id}/`);
export const cancelJob = (id: number) => api.post<Job>(`/api/jobs/${id}/cancel/`);
/** Up to 1000 events with an id above `after`, oldest first (history the websocket replay may not cover). */
export const listJobEvents = (id: number, after = 0) => api.get<JobEvent[]>(`/api/jobs/${id}/events/?after=${after}`);
export const JOB_EVENTS_PAGE = 1000;
export const createJob = (kind: string, params: Record<string, unknown>) =>
  api.post<Job>('/api/jobs/', { kind, params });

const STATUSES = new Set<string>(['queued', 'running', ...TERMINAL_STATUSES]);

/** Merge the status/progress/message/error fields of an event payload into a job (message: status and progress events only). */
export function applyEvent(job: Job, event: JobEvent): Job {
  const p = event.payload ?? {};
  const next: Job = { ...job };
  if (typeof p.status === 'string' && STATUSES.has(p.status)) next.status = p.status as JobStatus;
  if (typeof p.progress === 'number' && Number.isFinite(p.progress)) {
    next.progress = p.progress;
    // Progress is only reported by a running job, even if its status event was missed.
    if (next.status === 'queued') next.status = 'running';
  }
  // Only status and progress events describe the job; a `log` line is not its state.
  if (typeof p.message === 'string' && (event.kind === 'status' || event.kind === 'progress')) next.message = p.message;
  if (typeof p.error === 'string') next.error = p.error;
  if (next.status === 'running' && !next.started_at) next.started_at = event.time;
  if (isTerminal(next.status) && !next.finished_at) next.finished_at = event.time;
  return next;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}
