// A dataset that is still `uploading`: drop zone, one row per file, "Start extraction".
import { useMemo, useState, useSyncExternalStore } from 'react';
import type { ChangeEvent } from 'react';
import { messageOf } from '../api';
import { finalizeBlocker, finalizeDataset, formatBytes, formatDuration, formatSpeed } from '../datasets';
import type { Dataset, DatasetFile, Job } from '../types';
import { ACCEPT_ATTRIBUTE, uploaderFor } from '../upload/uploader';
import type { UploadEntry } from '../upload/uploader';
import { useDropZone } from '../useDropZone';
import { ErrorMessage } from './ErrorMessage';
import { ProgressBar } from './ProgressBar';

/** The dataset's files as last seen: the dataset's list, overlaid by newer upload answers. */
export function mergeFiles(listed: readonly DatasetFile[], fresh: readonly DatasetFile[]): DatasetFile[] {
  const byId = new Map(listed.map((f) => [f.id, f]));
  for (const f of fresh) byId.set(f.id, f);
  return [...byId.values()].sort((a, b) => a.id - b.id);
}

interface Row {
  name: string;
  size: number;
  entry: UploadEntry | null;
  server: DatasetFile | null;
}

export function UploadPanel({ dataset, onFinalized }: { dataset: Dataset; onFinalized: (job: Job) => void }) {
  const uploader = useMemo(() => uploaderFor(dataset.id), [dataset.id]);
  const snapshot = useSyncExternalStore(uploader.subscribe, uploader.getSnapshot);
  const { over, handlers: dropHandlers } = useDropZone((files) => addFiles(files));
  const [finalizing, setFinalizing] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const files = mergeFiles(dataset.files, snapshot.files);
  const rows: Row[] = snapshot.entries.map((entry) => ({
    name: entry.name,
    size: entry.size,
    entry,
    server: files.find((f) => f.filename === entry.name) ?? null,
  }));
  for (const f of files) {
    if (!rows.some((r) => r.name === f.filename)) rows.push({ name: f.filename, size: f.size, entry: null, server: f });
  }

  const blocker = finalizeBlocker(files);
  const canStart = !snapshot.busy && blocker === null && !finalizing;

  function addFiles(list: FileList | null) {
    if (list && list.length) uploader.add(Array.from(list));
  }

  function onPick(e: ChangeEvent<HTMLInputElement>) {
    addFiles(e.target.files);
    e.target.value = ''; // picking the same file again must fire `change` again
  }

  async function onStart() {
    setFinalizing(true);
    setError(null);
    try {
      onFinalized(await finalizeDataset(dataset.id));
    } catch (err) {
      setError(messageOf(err));
      setFinalizing(false);
    }
  }

  return (
    <section className="card" aria-label="Upload">
      <h2>Files</h2>
      <div
        className={`dropzone${over ? ' dropzone-over' : ''}`}
        data-testid="dropzone"
        {...dropHandlers}
      >
        <p>
          Drop the MXNet RecordIO files here: <code>train.rec</code>, <code>train.idx</code>, optionally{' '}
          <code>train.lst</code> and <code>property</code>, and evaluation <code>.bin</code> files.
        </p>
        <label className="btn btn-ghost file-pick">
          Choose files
          <input type="file" multiple accept={ACCEPT_ATTRIBUTE} className="visually-hidden" onChange={onPick} />
        </label>
        <p className="muted small">
          Large files upload in pieces and resume where they stopped — after a lost connection, or after a reload
          if you drop the same file again.
        </p>
      </div>

      {rows.length > 0 && (
        <ul className="upload-list">
          {rows.map((row) => (
            <FileRow
              key={row.name}
              row={row}
              onPause={() => uploader.pause(row.name)}
              onResume={() => uploader.resume(row.name)}
              onDismiss={() => uploader.dismiss(row.name)}
            />
          ))}
        </ul>
      )}

      <div className="upload-actions">
        <button type="button" className="btn btn-primary" disabled={!canStart} onClick={onStart}>
          {finalizing ? 'Starting…' : 'Start extraction'}
        </button>
        {!canStart && !finalizing && (
          <span className="muted" data-testid="start-blocker">
            {snapshot.busy ? 'Waiting for the uploads to finish.' : blocker}
          </span>
        )}
      </div>
      <ErrorMessage error={error} />
    </section>
  );
}

interface FileRowProps {
  row: Row;
  onPause: () => void;
  onResume: () => void;
  onDismiss: () => void;
}

function FileRow({ row, onPause, onResume, onDismiss }: FileRowProps) {
  const { entry, server } = row;
  // Before the uploader has heard from the server again, show what the dataset said.
  const received = entry && entry.fileId !== null ? entry.received : Math.max(entry?.received ?? 0, server?.received ?? 0);
  const fraction = row.size > 0 ? received / row.size : 0;
  const done = entry ? entry.phase === 'complete' : !!server?.complete;

  let status: string;
  let note: string | null = null;
  if (!entry) {
    status = done ? 'uploaded' : 'paused — drop the file again to resume';
  } else {
    switch (entry.phase) {
      case 'queued':
        status = 'waiting';
        break;
      case 'hashing':
        status = `hashing… ${Math.floor((entry.hashed / Math.max(1, entry.size)) * 100)}%`;
        break;
      case 'announcing':
        status = 'starting…';
        break;
      case 'uploading':
        status = 'uploading';
        break;
      case 'retrying':
        status = 'connection problem';
        note = entry.error;
        break;
      case 'completing':
        status = 'verifying checksum…';
        break;
      case 'paused':
        status = 'paused';
        break;
      case 'complete':
        status = 'uploaded';
        break;
      case 'error':
        status = 'failed';
        break;
    }
    if (entry.pausing) status = 'pausing…';
  }
  const working = entry && ['queued', 'hashing', 'announcing', 'uploading', 'retrying', 'completing'].includes(entry.phase);
  const resumable = entry && (entry.phase === 'paused' || (entry.phase === 'error' && entry.retryable));
  const rejected = entry?.phase === 'error' && !entry.retryable; // never reached the server

  return (
    <li className={`upload-row${done ? ' upload-done' : ''}`} data-testid={`file-row-${row.name}`}>
      <div className="upload-head">
        <span className="upload-name">{row.name}</span>
        <span className="upload-status" data-testid="file-status">
          {status}
        </span>
        <span className="upload-buttons">
          {working && (
            <button type="button" className="btn btn-ghost btn-small" onClick={onPause} disabled={entry.pausing}>
              Pause
            </button>
          )}
          {resumable && (
            <button type="button" className="btn btn-ghost btn-small" onClick={onResume}>
              {entry.phase === 'error' ? 'Retry' : 'Resume'}
            </button>
          )}
          {rejected && (
            <button type="button" className="btn btn-ghost btn-small" onClick={onDismiss}>
              Dismiss
            </button>
          )}
        </span>
      </div>
      {!rejected && <ProgressBar value={done ? 1 : fraction} label={`Upload ${row.name}`} />}
      <div className="upload-meta muted" hidden={rejected}>
        <span data-testid="file-bytes">
          {formatBytes(received)} / {formatBytes(row.size)}
        </span>
        {entry?.phase === 'uploading' && (
          <>
            <span>{formatSpeed(entry.speed)}</span>
            <span>{entry.eta === null ? '' : `${formatDuration(entry.eta)} left`}</span>
          </>
        )}
      </div>
      {note && <p className="upload-note">{note}</p>}
      {entry?.phase === 'error' && <ErrorMessage error={entry.error} />}
    </li>
  );
}
