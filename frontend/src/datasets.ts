// Dataset API calls and helpers shared by the dataset pages (uploads: see upload/uploader.ts).
import { api } from './api';
import type { Dataset, DatasetFile, DatasetStatus, Identity, IdentityPage, Job, Page } from './types';

export const listDatasets = () => api.get<Page<Dataset>>('/api/datasets/');
export const getDataset = (id: number) => api.get<Dataset>(`/api/datasets/${id}/`);
export const createDataset = (name: string) => api.post<Dataset>('/api/datasets/', { name });
export const deleteDataset = (id: number) => api.delete(`/api/datasets/${id}/`);
export const finalizeDataset = (id: number) => api.post<Job>(`/api/datasets/${id}/finalize/`);
export const listIdentities = (id: number, offset = 0, limit = 100) =>
  api.get<IdentityPage>(`/api/datasets/${id}/identities/?offset=${offset}&limit=${limit}`);

/** The most identities one `identities` request returns. */
export const IDENTITY_PAGE_MAX = 1000;

export interface IdentityOverview {
  /** Identities in the dataset. */
  total: number;
  /** Label and image count of every identity fetched (all, up to maxPages × 1000). */
  labels: number[];
  counts: number[];
  /** The first page, with sample image URLs. */
  first: Identity[];
}

/** Image counts of the identities (pages of 1000, for the histogram) and the first page's samples. */
export async function fetchIdentityOverview(id: number, maxPages = 50): Promise<IdentityOverview> {
  const out: IdentityOverview = { total: 0, labels: [], counts: [], first: [] };
  for (let page = 0; page < maxPages; page++) {
    const res = await listIdentities(id, page * IDENTITY_PAGE_MAX, IDENTITY_PAGE_MAX);
    out.total = res.count;
    if (page === 0) out.first = res.results;
    for (const identity of res.results) {
      out.labels.push(identity.label);
      out.counts.push(identity.count);
    }
    if (res.results.length < IDENTITY_PAGE_MAX || out.counts.length >= out.total) break;
  }
  return out;
}

export const ACTIVE_STATUSES: readonly DatasetStatus[] = ['validating', 'extracting'];

/** Why extraction cannot start yet, or null when it can. */
export function finalizeBlocker(files: readonly DatasetFile[]): string | null {
  if (files.length === 0) return 'Add the dataset files first.';
  const pending = files.filter((f) => !f.complete).map((f) => f.filename);
  if (pending.length) return `Still uploading: ${pending.join(', ')}.`;
  const roles = new Set(files.map((f) => f.role));
  if (roles.has('rec') && !roles.has('idx')) return 'The .rec file needs its .idx file.';
  if (!roles.has('rec') && !roles.has('bin')) return 'A dataset needs a .rec file (with its .idx) or .bin files.';
  return null;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

/** Decimal units (1 MB = 10^6 bytes), like the speed shown in MB/s. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 ? 0 : value < 10 ? 2 : value < 100 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatSpeed(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond)) return '—';
  return `${(bytesPerSecond / 1e6).toFixed(bytesPerSecond < 1e7 ? 2 : 1)} MB/s`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
