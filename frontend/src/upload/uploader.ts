// Resumable, chunked upload of dataset files (no React in here; the page subscribes).
//
// Per file: hash (SHA-256, incremental) → announce (POST files/) → PUT chunks in order from
// the server's `received` offset, two under way at once → POST complete (server checks the SHA-256).
// - fetch rejects / 5xx: wait with backoff, GET the file, go on from its `received`.
// - 409 carrying `received`: go on from there (the server has fewer bytes than we thought).
// - pause: stops after the chunks in flight; resume asks the server where to go on.
// - after a page reload the server still knows `received`; the hash is kept in
//   localStorage so dropping the same file again resumes without hashing it again.
//
// This module holds the queue and the upload loop; the pieces it uses live beside it and are
// re-exported here, the module the pages import.
import { ApiError, api, messageOf } from '../api';
import type { DatasetFile } from '../types';
import { DEFAULT_RETRY, isTransient, retryDelayMs, wakeableSleep } from './backoff';
import type { RetryPolicy } from './backoff';
import { isDatasetFileName } from './datasetFileNames';
import { chunkSha256, readSlice, sha256OfBlob } from './hashing';
import type { HashFn } from './hashing';
import { findRecord, forgetRecords, saveRecord } from './resumeRecords';
import { DEFAULT_WINDOW, MAX_CHUNK_SIZE, chunkSizeSetting, defaultStorage } from './settings';
import { WORKING, entryOf, newTask } from './task';
import type { Task, UploadEntry, UploadPhase } from './task';

export { ACCEPTED_SUFFIXES, ACCEPT_ATTRIBUTE, isDatasetFileName } from './datasetFileNames';
export { DEFAULT_RETRY, isTransient } from './backoff';
export type { RetryPolicy } from './backoff';
export { sha256OfBlob } from './hashing';
export type { HashFn } from './hashing';
export { RESUME_KEY, findRecord, forgetRecords, loadRecords, saveRecord } from './resumeRecords';
export type { ResumeRecord } from './resumeRecords';
export { CHUNK_SIZE_KEY, DEFAULT_CHUNK_SIZE, DEFAULT_WINDOW, MAX_CHUNK_SIZE, chunkSizeSetting } from './settings';
export type { UploadEntry, UploadPhase } from './task';

/** A server that keeps answering 409 without letting us progress is not worth looping on. */
const MAX_CONFLICTS = 5;

export interface UploaderSnapshot {
  entries: UploadEntry[];
  /** The latest server state of each file this uploader has touched, by id. */
  files: DatasetFile[];
  /** Something is queued or in progress. */
  busy: boolean;
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
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
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
      const task = newTask(file);
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
      task.speed.reset();
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
          task.speed.reset();
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
            task.speed.reset();
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
    const { maxRetries } = this.retry;
    if (task.failures > maxRetries) {
      throw new Error(`${messageOf(err)} (gave up after ${maxRetries} retries; press Retry to try again)`);
    }
    const delay = retryDelayMs(this.retry, task.failures);
    task.phase = 'retrying';
    task.error = `${messageOf(err)} — retrying in ${Math.max(1, Math.round(delay / 1000))} s (${task.failures}/${maxRetries})`;
    task.speed.reset();
    this.emit();
    const waited = wakeableSleep(delay, (wake) => (task.wake = wake));
    if (task.stop) task.wake?.();
    await waited;
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
    task.speed.add(this.now(), file.received);
    this.emit();
  }

  private emit(): void {
    const entries = [...this.tasks.values()].map(entryOf);
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
