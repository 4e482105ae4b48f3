import type { Dataset, Gallery, Job, JobEvent, SearchResult } from '../types';

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

export function makeGallery(overrides: Partial<Gallery> = {}): Gallery {
  return {
    id: 3,
    name: 'friends',
    status: 'ready',
    source: 'images',
    dataset: null,
    mode: 'mean',
    embedder: {
      name: 'dlib-resnet-v1',
      dim: 128,
      private: false,
      source: 'face-recognition-models 0.3.0',
      default_threshold: 0.92,
    },
    dim: 128,
    identities: 7,
    templates: 7,
    photos: 21,
    skipped: 0,
    error: '',
    job: 12,
    version: 3,
    he_profile: null,
    model: null,
    faces: 'dlib',
    private_search: null,
    threshold: null,
    threshold_override: null,
    fpir_target: 0.01,
    calibration: {},
    created_at: '2025-01-01T12:00:00Z',
    updated_at: '2025-01-01T12:00:00Z',
    ...overrides,
  };
}

export function makeSearchResult(overrides: Partial<SearchResult> = {}): SearchResult {
  return {
    gallery: { id: 3, name: 'friends', version: 3 },
    matches: [
      { identity: 'person_01', score: 0.9644, thumbnail: 'http://localhost/api/galleries/3/identities/person_01/thumbnail/?v=3' },
      { identity: 'person_04', score: 0.9212, thumbnail: 'http://localhost/api/galleries/3/identities/person_04/thumbnail/?v=3' },
    ],
    matched: true,
    threshold: 0.92,
    top_k: 5,
    aligned: true,
    faces_found: 1,
    aligned_crop: 'data:image/jpeg;base64,/9j/AA==',
    embedder: makeGallery().embedder,
    server: {
      upload_bytes: 65836,
      context_bytes: 262838,
      response_bytes: 131320,
      shards: 1,
      server_seconds: 0.1778,
      server_prepare_seconds: 0.1194,
      server_cached: false,
      client_embed_seconds: 0.1317,
      client_encrypt_seconds: 0.0074,
      wait_seconds: 0.1983,
      client_decrypt_seconds: 0.0013,
      total_seconds: 0.3392,
    },
    audit_id: 41,
    ...overrides,
  };
}
