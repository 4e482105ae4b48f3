// Gallery and encrypted-search API calls and helpers (contract: docs/search.md).
import { api } from './api';
import type { Gallery, GalleryCreated, GalleryMode, Page, SearchResult } from './types';

export const listGalleries = () => api.get<Page<Gallery>>('/api/galleries/');
export const getGallery = (id: number) => api.get<Gallery>(`/api/galleries/${id}/`);
export const deleteGallery = (id: number) => api.delete(`/api/galleries/${id}/`);

/** From a ready dataset: the enrollment job starts at once (202). */
export const createDatasetGallery = (name: string, dataset: number, mode: GalleryMode) =>
  api.post<GalleryCreated>('/api/galleries/', { name, source: 'dataset', dataset, mode });

/** An empty gallery for labelled photos (201); add them with `addPhotos`. */
export const createImagesGallery = (name: string, mode: GalleryMode) =>
  api.post<GalleryCreated>('/api/galleries/', { name, source: 'images', mode });

/** The most photos one upload may carry (Django's DATA_UPLOAD_MAX_NUMBER_FILES). */
export const MAX_PHOTOS_PER_UPLOAD = 100;

/** Accepted photo types (the server answers 415 to anything else). */
export const PHOTO_ACCEPT = 'image/jpeg,image/png,image/webp,image/bmp,.jpg,.jpeg,.png,.webp,.bmp';

export type PhotoLabels = { labels: string[] } | { labelsCsv: File };

/** Multipart body of `POST …/images/`: `files` plus `labels` in the same order, or a `labels_csv` file. */
export function photosForm(files: readonly File[], labels: PhotoLabels): FormData {
  const form = new FormData();
  for (const file of files) form.append('files', file, file.name);
  if ('labelsCsv' in labels) form.append('labels_csv', labels.labelsCsv, labels.labelsCsv.name);
  else for (const label of labels.labels) form.append('labels', label);
  return form;
}

/** Add labelled photos to an images gallery: starts an enrollment job (202). */
export const addPhotos = (id: number, files: readonly File[], labels: PhotoLabels) =>
  api.postForm<GalleryCreated>(`/api/galleries/${id}/images/`, photosForm(files, labels));

export interface SearchOptions {
  topK?: number | null;
  /** Omitted: the server uses the embedder's default. */
  threshold?: number | null;
}

/** Search a photo in a gallery under encryption (multipart `image`, `top_k`, `threshold`). */
export function searchGallery(id: number, image: File, { topK, threshold }: SearchOptions = {}) {
  const form = new FormData();
  form.append('image', image, image.name);
  if (topK != null && Number.isFinite(topK)) form.append('top_k', String(topK));
  if (threshold != null && Number.isFinite(threshold)) form.append('threshold', String(threshold));
  return api.postForm<SearchResult>(`/api/galleries/${id}/search/`, form);
}

/** Label suggested for a photo: its file name up to the first `_` or `-` (extension dropped). */
export function labelFromFileName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  const stem = base.replace(/\.[^.]*$/, '') || base;
  return (stem.split(/[_-]/)[0] || stem).trim();
}

/** A gallery with templates can be searched (also while more photos enroll). */
export function isSearchable(g: Gallery): boolean {
  return g.templates > 0 && (g.status === 'ready' || g.status === 'enrolling');
}

export function formatSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  return `${s.toFixed(s < 10 ? 2 : 1)} s`;
}

export const MODE_LABELS: Record<GalleryMode, string> = {
  mean: 'one template per identity (mean)',
  all: 'one template per photo (all)',
};
