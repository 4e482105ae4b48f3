// One file's upload: its state inside the uploader (Task) and what the page sees of it
// (UploadEntry, a new object only when something shown changed).
import { SpeedMeter } from './speed';

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

/** The phases in which a file is being worked on (pause takes effect after the chunk in flight). */
export const WORKING: ReadonlySet<UploadPhase> = new Set(['hashing', 'announcing', 'uploading', 'retrying', 'completing']);

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

export interface Task {
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
  /** Pause (or dispose) was asked for. */
  stop: boolean;
  /** Ends a backoff wait early. */
  wake: (() => void) | null;
  /** Transient failures in a row. */
  failures: number;
  speed: SpeedMeter;
  entry: UploadEntry | null;
}

export function newTask(file: File): Task {
  return {
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
    speed: new SpeedMeter(),
    entry: null,
  };
}

/** The task's entry: the previous object when nothing shown changed (cheap React renders). */
export function entryOf(task: Task): UploadEntry {
  const speed = task.phase === 'uploading' ? task.speed.bytesPerSecond() : null;
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
