// Resumable, chunked upload of dataset files (no React in here; the page subscribes).
//
// Per file: hash (SHA-256, incremental) → announce (POST files/) → PUT chunks in order from
// the server's `received` offset, two under way at once → POST complete (server checks the SHA-256).
// - fetch rejects / 5xx: wait with backoff, GET the file, go on from its `received`.
// - 409 carrying `received`: go on from there (the server has fewer bytes than we thought).
// - pause: stops after the chunks in flight; resume asks the server where to go on.
// - after a page reload the server still knows `received`; the hash is kept in
//   localStorage so dropping the same file again resumes without hashing it again.
import { ApiError, api, messageOf } from '../api';
import type { DatasetFile } from '../types';

export const DEFAULT_CHUNK_SIZE = 8 << 20;
/** Chunks of a file under way at once (bench/upload_throughput.py --in_flight). */
export const DEFAULT_WINDOW = 2;
/** The server refuses bodies over 64 MiB. */
export const MAX_CHUNK_SIZE = 64 << 20;
/** Test hook: bytes per chunk (the e2e uses tiny chunks). */
export const CHUNK_SIZE_KEY = 'privface.chunkSize';
/** localStorage key of the resume records (see ResumeRecord). */
export const RESUME_KEY = 'privface.uploads';
const MAX_RECORDS = 200;
const HASH_SLICE = 8 << 20;
const SPEED_WINDOW_MS = 10_000;
/** A server that keeps answering 409 without letting us progress is not worth looping on. */
const MAX_CONFLICTS = 5;

export const ACCEPTED_SUFFIXES = ['.rec', '.idx', '.lst', '.bin'] as const;
/** For the file input's `accept`. */
export const ACCEPT_ATTRIBUTE = [...ACCEPTED_SUFFIXES, 'property'].join(',');

/** True for the file names the server takes (.rec/.idx/.lst/.bin and `property`). */
export function isDatasetFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return name === 'property' || ACCEPTED_SUFFIXES.some((s) => lower.endsWith(s) && lower.length > s.length);
}

// ---------------------------------------------------------------------------
// localStorage: settings and resume records

function defaultStorage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled
  }
}

/** Chunk size: `localStorage['privface.chunkSize']` (bytes) if set, else 8 MiB; at most 64 MiB. */
export function chunkSizeSetting(storage: Storage | null = defaultStorage()): number {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(CHUNK_SIZE_KEY) ?? null;
  } catch {
    raw = null;
  }
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n > 0 ? Math.min(n, MAX_CHUNK_SIZE) : DEFAULT_CHUNK_SIZE;
}

/** What lets a file dropped again after a reload resume without hashing it again. */
export interface ResumeRecord {
  datasetId: number;
  name: string;
  size: number;
  lastModified: number;
  sha256: string;
  fileId: number | null;
}

export function loadRecords(storage: Storage | null = defaultStorage()): ResumeRecord[] {
  try {
    const parsed: unknown = JSON.parse(storage?.getItem(RESUME_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as ResumeRecord[]) : [];
  } catch {
    return [];
  }
}

function storeRecords(records: ResumeRecord[], storage: Storage | null): void {
  try {
    if (records.length) storage?.setItem(RESUME_KEY, JSON.stringify(records.slice(-MAX_RECORDS)));
    else storage?.removeItem(RESUME_KEY);
  } catch {
    // Quota or disabled storage: resuming will hash the file again, nothing worse.
  }
}

/** The record for this dataset and file, if name, size and lastModified all match. */
export function findRecord(
  datasetId: number,
  file: { name: string; size: number; lastModified: number },
  storage: Storage | null = defaultStorage(),
): ResumeRecord | null {
  return (
    loadRecords(storage).find(
      (r) =>
        r.datasetId === datasetId &&
        r.name === file.name &&
        r.size === file.size &&
        r.lastModified === file.lastModified &&
        /^[0-9a-f]{64}$/.test(r.sha256),
    ) ?? null
  );
}

export function saveRecord(record: ResumeRecord, storage: Storage | null = defaultStorage()): void {
  const others = loadRecords(storage).filter((r) => !(r.datasetId === record.datasetId && r.name === record.name));
  storeRecords([...others, record], storage);
}

/** Drop the records of a dataset (all, or one file's). */
export function forgetRecords(datasetId: number, name?: string, storage: Storage | null = defaultStorage()): void {
  const kept = loadRecords(storage).filter((r) => !(r.datasetId === datasetId && (name === undefined || r.name === name)));
  storeRecords(kept, storage);
}

// ---------------------------------------------------------------------------
// Hashing

/** SHA-256 of a blob as 64 lowercase hex digits, or null when `shouldStop` said so. */
export type HashFn = (blob: Blob, onProgress: (bytesHashed: number) => void, shouldStop: () => boolean) => Promise<string | null>;

/** Incremental SHA-256 (hash-wasm): reads the file in 8 MiB slices, never whole. */
export const sha256OfBlob: HashFn = async (blob, onProgress, shouldStop) => {
  const { createSHA256 } = await import('hash-wasm');
  const hasher = await createSHA256();
  hasher.init();
  for (let pos = 0; pos < blob.size; ) {
    if (shouldStop()) return null;
    const end = Math.min(blob.size, pos + HASH_SLICE);
    hasher.update(new Uint8Array(await readSlice(blob.slice(pos, end))));
    pos = end;
    onProgress(pos);
  }
  return hasher.digest('hex');
};

async function chunkSha256(bytes: Uint8Array): Promise<string> {
  const { sha256 } = await import('hash-wasm');
  return sha256(bytes);
}

function readSlice(blob: Blob): Promise<ArrayBuffer> {
  if (typeof blob.arrayBuffer === 'function') return blob.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

// ---------------------------------------------------------------------------
// The uploader

export type UploadPhase =
  | 'queued'
  | 'hashing'
  | 'announcing'
  | 'uploading'
  | 'retrying'
  | 'completing'
  | 'paused'
  | 'complete'
  | 'error';

const WORKING: ReadonlySet<UploadPhase> = new Set(['hashing', 'announcing', 'uploading', 'retrying', 'completing']);

/** What the page shows for one file (immutable; a new object after each change). */
export interface UploadEntry {
  name: string;
  size: number;
  phase: UploadPhase;
  /** Bytes hashed so far (phase `hashing`). */
  hashed: number;
  /** Bytes the server has stored. */
  received: number;
  /** Bytes per second over the last seconds, null until measurable. */
  speed: number | null;
  /** Seconds left at that speed. */
  eta: number | null;
  /** Error (phase `error`) or the reason of a retry (phase `retrying`). */
  error: string | null;
  /** Pause was asked for; it takes effect after the chunk in flight. */
  pausing: boolean;
  /** Resume/Retry can help (false for e.g. a file the server does not take). */
  retryable: boolean;
  fileId: number | null;
}

export interface UploaderSnapshot {
  entries: UploadEntry[];
  /** The latest server state of each file this uploader has touched, by id. */
  files: DatasetFile[];
  /** Something is queued or in progress. */
  busy: boolean;
}

export interface RetryPolicy {
  /** Retries per file in a row before giving up (the user can then press Retry). */
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface UploaderOptions {
  /** Bytes per PUT; default from chunkSizeSetting(). */
  chunkSize?: number;
  /** Files uploaded at the same time (1 or 2). */
  concurrency?: number;
  /** Chunks of one file under way at once (1 to 4, default 2): the next chunk travels
   *  while the server writes and syncs the one before. */
  window?: number;
  retry?: Partial<RetryPolicy>;
  hash?: HashFn;
  storage?: Storage | null;
  now?: () => number;
}

interface Task {
  file: File;
  name: string;
  size: number;
  phase: UploadPhase;
  hashed: number;
  received: number;
  error: string | null;
  retryable: boolean;
  sha256: string | null;
  fileId: number | null;
  stop: boolean;
  wake: (() => void) | null;
  failures: number;
  samples: Array<[number, number]>;
  entry: UploadEntry | null;
}

/** Network failures and server-side trouble: worth retrying. */
export function isTransient(err: unknown): boolean {
  return err instanceof ApiError && (err.status === 0 || err.status >= 500 || err.status === 408 || err.status === 429);
}

function receivedOf(err: ApiError): number | null {
  const body = err.body as { received?: unknown } | null;
  const r = body && typeof body === 'object' ? body.received : undefined;
  return typeof r === 'number' && Number.isInteger(r) && r >= 0 ? r : null;
}

class Stopped extends Error {}

/** A chunk PUT's outcome; errors are values so that chunks under way never reject unseen. */
type Sent = { file: DatasetFile } | { error: unknown };

export class Uploader {
  readonly datasetId: number;
  readonly chunkSize: number;
  private readonly concurrency: number;
  readonly window: number;
  private readonly retry: RetryPolicy;
  private readonly hash: HashFn;
  private readonly storage: Storage | null;
  private readonly now: () => number;
  private readonly tasks = new Map<string, Task>();
  private readonly queue: Task[] = [];
  private readonly files = new Map<number, DatasetFile>();
  private readonly listeners = new Set<() => void>();
  private running = 0;
  private disposed = false;
  private snapshot: UploaderSnapshot = { entries: [], files: [], busy: false };
  private lastHashEmit = 0;

  constructor(datasetId: number, opts: UploaderOptions = {}) {
    this.datasetId = datasetId;
    this.storage = opts.storage === undefined ? defaultStorage() : opts.storage;
    this.chunkSize = Math.min(MAX_CHUNK_SIZE, Math.max(1, opts.chunkSize ?? chunkSizeSetting(this.storage)));
    this.concurrency = Math.max(1, Math.min(2, opts.concurrency ?? 1));
    this.window = Math.max(1, Math.min(4, opts.window ?? DEFAULT_WINDOW));
    this.retry = { maxRetries: 8, baseDelayMs: 1000, maxDelayMs: 30_000, ...opts.retry };
    this.hash = opts.hash ?? sha256OfBlob;
    this.now = opts.now ?? (() => performance.now());
  }

  // -- for React's useSyncExternalStore
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): UploaderSnapshot => this.snapshot;

  get busy(): boolean {
    return this.snapshot.busy;
  }

  /** Queue files. A file already known by name is resumed (if paused or failed) with this handle. */
  add(files: Iterable<File>): void {
    if (this.disposed) return;
    for (const file of files) {
      const known = this.tasks.get(file.name);
      if (known) {
        if (known.phase !== 'paused' && known.phase !== 'error') continue; // in progress or done
        if (known.file.size !== file.size || known.file.lastModified !== file.lastModified) {
          known.sha256 = null; // another version of the file: hash it again
          known.size = file.size;
          known.received = 0;
        }
        known.file = file;
        this.enqueue(known);
        continue;
      }
      const task: Task = {
        file,
        name: file.name,
        size: file.size,
        phase: 'queued',
        hashed: 0,
        received: 0,
        error: null,
        retryable: true,
        sha256: null,
        fileId: null,
        stop: false,
        wake: null,
        failures: 0,
        samples: [],
        entry: null,
      };
      this.tasks.set(file.name, task);
      if (!isDatasetFileName(file.name)) {
        this.fail(task, `${file.name}: not a dataset file (expected .rec, .idx, .lst, .bin or property)`, false);
      } else if (file.size === 0) {
        this.fail(task, `${file.name} is empty`, false);
      } else {
        this.enqueue(task);
      }
    }
    this.emit();
  }

  /** Stop after the chunk in flight (at once if the file is only queued). */
  pause(name: string): void {
    const task = this.tasks.get(name);
    if (!task) return;
    if (task.phase === 'queued') {
      this.queue.splice(this.queue.indexOf(task), 1);
      task.phase = 'paused';
    } else if (WORKING.has(task.phase)) {
      task.stop = true;
      task.wake?.();
    }
    this.emit();
  }

  /** Go on with a paused or failed file (from the server's `received`). */
  resume(name: string): void {
    const task = this.tasks.get(name);
    if (!task || this.disposed) return;
    if (task.phase === 'paused' || (task.phase === 'error' && task.retryable)) {
      this.enqueue(task);
      this.emit();
    }
  }

  /** Forget a file that can't be uploaded (wrong type, empty) so its row goes away. */
  dismiss(name: string): void {
    const task = this.tasks.get(name);
    if (task && task.phase === 'error' && !task.retryable) {
      this.tasks.delete(name);
      this.emit();
    }
  }

  /** Stop everything (dataset deleted, tests). Chunks in flight finish on their own. */
  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    for (const task of this.tasks.values()) {
      task.stop = true;
      task.wake?.();
    }
    this.listeners.clear();
  }

  // -- internals

  private enqueue(task: Task): void {
    task.phase = 'queued';
    task.error = null;
    task.stop = false;
    task.failures = 0;
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (!this.disposed && this.running < this.concurrency && this.queue.length) {
      const task = this.queue.shift()!;
      this.running++;
      void this.run(task).finally(() => {
        this.running--;
        this.pump();
        this.emit();
      });
    }
  }

  private async run(task: Task): Promise<void> {
    try {
      await this.upload(task);
    } catch (err) {
      if (err instanceof Stopped) {
        task.phase = 'paused';
        task.error = null;
      } else {
        this.fail(task, messageOf(err), true);
      }
    } finally {
      task.stop = false;
      task.wake = null;
      task.samples = [];
    }
  }

  private fail(task: Task, message: string, retryable: boolean): void {
    task.phase = 'error';
    task.error = message;
    task.retryable = retryable;
  }

  private setPhase(task: Task, phase: UploadPhase): void {
    if (task.stop) throw new Stopped();
    task.phase = phase;
    this.emit();
  }

  private async upload(task: Task): Promise<void> {
    const base = `/api/datasets/${this.datasetId}/files/`;

    // 1. SHA-256: remembered from an earlier try (even before a reload), else hashed now.
    if (!task.sha256) {
      const record = findRecord(this.datasetId, task.file, this.storage);
      if (record) {
        task.sha256 = record.sha256;
      } else {
        this.setPhase(task, 'hashing');
        task.hashed = 0;
        const digest = await this.hash(
          task.file,
          (n) => {
            task.hashed = n;
            if (this.now() - this.lastHashEmit > 100 || n === task.size) {
              this.lastHashEmit = this.now();
              this.emit();
            }
          },
          () => task.stop,
        );
        if (digest === null) throw new Stopped();
        task.sha256 = digest;
        this.remember(task);
      }
    }

    // 2. Announce: 201 for a new file, 200 with `received` for one the server already has.
    this.setPhase(task, 'announcing');
    let file = await this.withRetries(task, () =>
      api.post<DatasetFile>(base, { filename: task.name, size: task.size, sha256: task.sha256 }),
    );
    task.fileId = file.id;
    this.remember(task);
    this.noteFile(task, file);

    // 3. Chunks from the server's offset, `window` of them under way at once, then
    // 4. complete (checksum on the server). The server stores chunks in order: one that
    // overtakes its predecessor gets a 409 and is sent again once that one has landed.
    const url = `${base}${file.id}/`;
    let next = file.received; // the first byte not yet sent
    let resync = false;
    let conflicts = 0;
    const inflight: Array<Promise<Sent>> = [];
    let lastLeft: Promise<void> = Promise.resolve();
    const settle = () => Promise.all(inflight.splice(0)); // let chunks under way land
    this.setPhase(task, 'uploading');
    while (!file.complete) {
      try {
        if (resync) {
          await settle();
          if (task.stop) throw new Stopped();
          file = await api.get<DatasetFile>(url);
          resync = false;
          task.samples = [];
          next = file.received;
          if (task.phase === 'retrying') task.phase = 'uploading';
          this.noteFile(task, file);
          continue;
        }
        while (!task.stop && inflight.length < this.window && next < task.size) {
          const end = Math.min(task.size, next + this.chunkSize);
          const [sent, left] = this.putChunk(task, url, next, end, lastLeft);
          inflight.push(sent);
          lastLeft = left;
          next = end;
        }
        if (inflight.length) {
          const sent = await inflight.shift()!;
          if ('error' in sent) throw sent.error;
          file = sent.file;
        } else if (task.stop) {
          throw new Stopped();
        } else if (file.received < task.size) {
          resync = true; // everything sent, yet the server has less: ask where to go on
          continue;
        } else {
          this.setPhase(task, 'completing');
          file = await api.post<DatasetFile>(`${url}complete/`);
        }
        task.failures = 0;
        conflicts = 0;
        if (task.phase === 'retrying') task.phase = 'uploading';
        this.noteFile(task, file);
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && ++conflicts <= MAX_CONFLICTS) {
          // Fewer bytes on the server than we assumed: go on from where it is.
          const received = receivedOf(err);
          if (received === null || inflight.length) {
            resync = true; // e.g. "not all bytes are there", or chunks still under way
          } else {
            next = received;
            task.samples = [];
            task.received = received;
            this.emit();
          }
          if (task.phase === 'completing') task.phase = 'uploading';
          continue;
        }
        try {
          if (err instanceof Stopped || (err instanceof ApiError && err.status === 409)) throw err;
          await this.backoff(task, err);
        } catch (fatal) {
          await settle(); // nothing of this file is sent after its error is shown
          throw fatal;
        }
        resync = true; // a chunk may or may not have landed: the server knows
      }
    }

    task.phase = 'complete';
    task.error = null;
    forgetRecords(this.datasetId, task.name, this.storage);
    this.emit();
  }

  /** Run `call`, retrying transient failures with backoff. */
  private async withRetries<T>(task: Task, call: () => Promise<T>): Promise<T> {
    const phase = task.phase;
    for (;;) {
      try {
        const result = await call();
        task.failures = 0;
        task.phase = phase;
        return result;
      } catch (err) {
        await this.backoff(task, err);
      }
    }
  }

  /** Rethrows anything not worth retrying; else waits (phase `retrying`). Throws Stopped on pause. */
  private async backoff(task: Task, err: unknown): Promise<void> {
    if (!isTransient(err)) throw err;
    task.failures++;
    const { maxRetries, baseDelayMs, maxDelayMs } = this.retry;
    if (task.failures > maxRetries) {
      throw new Error(`${messageOf(err)} (gave up after ${maxRetries} retries; press Retry to try again)`);
    }
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (task.failures - 1));
    task.phase = 'retrying';
    task.error = `${messageOf(err)} — retrying in ${Math.max(1, Math.round(delay / 1000))} s (${task.failures}/${maxRetries})`;
    task.samples = [];
    this.emit();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        task.wake = null;
        resolve();
      }, delay);
      task.wake = () => {
        clearTimeout(timer);
        task.wake = null;
        resolve();
      };
      if (task.stop) task.wake();
    });
    task.error = null;
    if (task.stop) throw new Stopped();
  }

  private remember(task: Task): void {
    if (!task.sha256) return;
    saveRecord(
      {
        datasetId: this.datasetId,
        name: task.name,
        size: task.size,
        lastModified: task.file.lastModified,
        sha256: task.sha256,
        fileId: task.fileId,
      },
      this.storage,
    );
  }

  /** PUT one chunk; `after` resolves when the previous chunk's request has gone out, so
   *  chunks leave in order even when one is read and hashed sooner than the one before. */
  private putChunk(task: Task, url: string, offset: number, end: number, after: Promise<void>): [Promise<Sent>, Promise<void>] {
    let leave!: () => void;
    const left = new Promise<void>((resolve) => (leave = resolve));
    const sent = (async (): Promise<Sent> => {
      try {
        const bytes = new Uint8Array(await readSlice(task.file.slice(offset, end)));
        // The chunk's own digest lets the server refuse bytes damaged on the way.
        const headers = { 'X-Chunk-Sha256': await chunkSha256(bytes) };
        await after;
        const request = api.put<DatasetFile>(`${url}chunk/?offset=${offset}`, new Blob([bytes]), headers);
        leave();
        return { file: await request };
      } catch (error) {
        return { error };
      } finally {
        leave();
      }
    })();
    return [sent, left];
  }

  private noteFile(task: Task, file: DatasetFile): void {
    this.files.set(file.id, file);
    task.received = file.received;
    const t = this.now();
    task.samples.push([t, file.received]);
    while (task.samples.length > 2 && t - task.samples[0][0] > SPEED_WINDOW_MS) task.samples.shift();
    this.emit();
  }

  private speedOf(task: Task): number | null {
    if (task.phase !== 'uploading' || task.samples.length < 2) return null;
    const [t0, b0] = task.samples[0];
    const [t1, b1] = task.samples[task.samples.length - 1];
    return t1 - t0 >= 200 && b1 >= b0 ? ((b1 - b0) * 1000) / (t1 - t0) : null;
  }

  private entryOf(task: Task): UploadEntry {
    const speed = this.speedOf(task);
    const entry: UploadEntry = {
      name: task.name,
      size: task.size,
      phase: task.phase,
      hashed: task.hashed,
      received: task.received,
      speed,
      eta: speed ? (task.size - task.received) / speed : null,
      error: task.error,
      pausing: task.stop && WORKING.has(task.phase),
      retryable: task.retryable,
      fileId: task.fileId,
    };
    const old = task.entry;
    if (old && (Object.keys(entry) as Array<keyof UploadEntry>).every((k) => old[k] === entry[k])) return old;
    task.entry = entry;
    return entry;
  }

  private emit(): void {
    const entries = [...this.tasks.values()].map((t) => this.entryOf(t));
    const busy = entries.some((e) => e.phase === 'queued' || WORKING.has(e.phase));
    this.snapshot = { entries, files: [...this.files.values()], busy };
    for (const listener of [...this.listeners]) listener();
  }
}

// ---------------------------------------------------------------------------
// One uploader per dataset for the whole tab, so uploads go on while the user looks
// at other pages, and a warning before the tab is closed or reloaded mid-upload.

const uploaders = new Map<number, Uploader>();
let unloadGuard = false;

function warnBeforeUnload(event: BeforeUnloadEvent): void {
  if ([...uploaders.values()].some((u) => u.busy)) {
    event.preventDefault();
    event.returnValue = ''; // older browsers
  }
}

export function uploaderFor(datasetId: number): Uploader {
  let uploader = uploaders.get(datasetId);
  if (!uploader) {
    uploader = new Uploader(datasetId);
    uploaders.set(datasetId, uploader);
  }
  if (!unloadGuard && typeof window !== 'undefined') {
    window.addEventListener('beforeunload', warnBeforeUnload);
    unloadGuard = true;
  }
  return uploader;
}

/** The dataset is gone (deleted): stop its uploads and forget its resume records. */
export function discardUploader(datasetId: number): void {
  uploaders.get(datasetId)?.dispose();
  uploaders.delete(datasetId);
  forgetRecords(datasetId);
}
