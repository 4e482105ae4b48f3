// Gallery and encrypted-search API calls and helpers (contract: docs/search.md).
import { api } from './api';
import type { Embedder, Gallery, GalleryCreated, GalleryMode, Page, SearchResult } from './types';

export const listGalleries = () => api.get<Page<Gallery>>('/api/galleries/');
export const getGallery = (id: number) => api.get<Gallery>(`/api/galleries/${id}/`);
export const deleteGallery = (id: number) => api.delete(`/api/galleries/${id}/`);

/** A registry model id to embed with; null / omitted: the reference embedder. */
export interface GalleryOptions {
  model?: number | null;
  fpirTarget?: number | null;
}

function createBody(options: GalleryOptions) {
  return {
    ...(options.model != null ? { model: options.model } : {}),
    ...(options.fpirTarget != null ? { fpir_target: options.fpirTarget } : {}),
  };
}

/** From a ready dataset: the enrollment job starts at once (202). */
export const createDatasetGallery = (name: string, dataset: number, mode: GalleryMode, options: GalleryOptions = {}) =>
  api.post<GalleryCreated>('/api/galleries/', { name, source: 'dataset', dataset, mode, ...createBody(options) });

/** An empty gallery for labelled photos (201); add them with `addPhotos`. */
export const createImagesGallery = (name: string, mode: GalleryMode, options: GalleryOptions = {}) =>
  api.post<GalleryCreated>('/api/galleries/', { name, source: 'images', mode, ...createBody(options) });

/** The owner's threshold (null: back to the calibrated one) and optionally a new FPIR target. */
export const setGalleryThreshold = (id: number, threshold: number | null, fpirTarget?: number) =>
  api.post<Gallery>(`/api/galleries/${id}/threshold/`, {
    threshold,
    ...(fpirTarget != null ? { fpir_target: fpirTarget } : {}),
  });

/** Privacy of an embedder in words: "ε 7.92, δ 1e-3, per one image", or "not private". */
export function privacyText(embedder: Embedder | null | undefined): string {
  const p = embedder?.privacy;
  if (!embedder || (!p && embedder.private == null)) return 'privacy unknown';
  if (!p?.private) return embedder.model ? 'not private (trained without DP)' : 'not private (public reference weights)';
  const eps = p.epsilon != null ? `ε ${p.epsilon.toFixed(2)}` : 'ε unknown';
  const delta = p.delta != null ? `δ ${p.delta.toExponential(0)}` : 'δ unknown';
  return `${eps}, ${delta}${p.unit ? `, DP unit: ${p.unit}` : ''}`;
}

/** The model an embedder comes from, in words. */
export function modelText(embedder: Embedder | null | undefined): string {
  if (!embedder) return '—';
  if (embedder.model) return `${embedder.model.name} (model #${embedder.model.id})`;
  if (embedder.source === 'trained') return 'a deleted model';
  return 'reference (dlib ResNet)';
}

/** A rate as a percentage, "n/a" when unknown. */
export function formatRate(rate: number | null | undefined): string {
  if (rate == null || !Number.isFinite(rate)) return 'n/a';
  return `${(100 * rate).toFixed(rate < 0.001 && rate > 0 ? 3 : 2)} %`;
}

/** The most photos one upload may carry (Django's DATA_UPLOAD_MAX_NUMBER_FILES). */
export const MAX_PHOTOS_PER_UPLOAD = 100;

/** Accepted photo types (the server answers 415 to anything else). */
export const PHOTO_ACCEPT = 'image/jpeg,image/png,image/webp,image/bmp,.jpg,.jpeg,.png,.webp,.bmp';

export type PhotoLabels = { labels: string[] } | { labelsCsv: File };

/** Multipart body of `POST …/images/`: `files` plus `labels` in the same order, or a `labels_csv` file. */
export interface PhotoOptions {
  /** 112×112 photos are aligned crops: no face detection. */
  aligned?: boolean;
  /** People NOT enrolled: they only calibrate the threshold (no labels). */
  background?: boolean;
}

export function photosForm(files: readonly File[], labels: PhotoLabels, options: PhotoOptions = {}): FormData {
  const form = new FormData();
  for (const file of files) form.append('files', file, file.name);
  if (options.aligned) form.append('aligned', 'true');
  if (options.background) {
    form.append('background', 'true');
    return form;
  }
  if ('labelsCsv' in labels) form.append('labels_csv', labels.labelsCsv, labels.labelsCsv.name);
  else for (const label of labels.labels) form.append('labels', label);
  return form;
}

/** Add labelled photos to an images gallery: starts an enrollment job (202). */
export const addPhotos = (id: number, files: readonly File[], labels: PhotoLabels, options: PhotoOptions = {}) =>
  api.postForm<GalleryCreated>(`/api/galleries/${id}/images/`, photosForm(files, labels, options));

export interface SearchOptions {
  topK?: number | null;
  /** Omitted: the server uses the gallery's threshold (the owner's, else the calibrated one). */
  threshold?: number | null;
  /** The photo is a 112×112 aligned crop: skip detection. */
  aligned?: boolean;
}

/** Search a photo in a gallery under encryption (multipart `image`, `top_k`, `threshold`). */
export function searchGallery(id: number, image: File, { topK, threshold, aligned }: SearchOptions = {}) {
  const form = new FormData();
  form.append('image', image, image.name);
  if (aligned) form.append('aligned', 'true');
  if (topK != null && Number.isFinite(topK)) form.append('top_k', String(topK));
  if (threshold != null && Number.isFinite(threshold)) form.append('threshold', String(threshold));
  return api.postForm<SearchResult>(`/api/galleries/${id}/search/`, form);
}

/** Ask the workers to encode the gallery's shards now, before its first search (202; a
 *  recent warm-up of the same version is not repeated). Best effort: failures are ignored. */
export function warmGallery(id: number): Promise<void> {
  return api.post(`/api/galleries/${id}/warm/`).then(
    () => undefined,
    () => undefined,
  );
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
