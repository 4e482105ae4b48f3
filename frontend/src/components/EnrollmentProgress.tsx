import { useEffect, useRef } from 'react';
import { Link } from 'react-router-dom';
import { isTerminal } from '../jobs';
import type { Job } from '../types';
import { useJobStream } from '../useJobStream';
import { ConnectionIndicator } from './ConnectionIndicator';
import { ErrorMessage } from './ErrorMessage';
import { ProgressBar } from './ProgressBar';
import { StatusBadge } from './StatusBadge';

/** Live progress of a gallery's enrollment job (websocket); calls onFinished once when it ends. */
export function EnrollmentProgress({ jobId, onFinished }: { jobId: number; onFinished: (job: Job) => void }) {
  const { job, events, connection } = useJobStream(jobId);
  const notified = useRef(false);

  useEffect(() => {
    if (job && isTerminal(job.status) && !notified.current) {
      notified.current = true;
      onFinished(job);
    }
  }, [job, onFinished]);

  // The latest progress message (job.message also takes the text of log events).
  let message = job?.message ?? '';
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.kind !== 'log' && typeof e.payload.message === 'string' && e.payload.message) {
      message = e.payload.message;
      break;
    }
  }
  let photos: { done: number; total: number } | null = null;
  for (let i = events.length - 1; i >= 0 && !photos; i--) {
    const p = events[i].payload;
    if (typeof p.photos_done === 'number' && typeof p.photos_total === 'number') {
      photos = { done: p.photos_done, total: p.photos_total };
    }
  }
  // One `log` event per skipped photo ("skipped <photo>: <reason>").
  const skipped = events
    .filter((e) => e.kind === 'log' && typeof e.payload.message === 'string' && e.payload.message.startsWith('skipped '))
    .map((e) => ({ id: e.id, text: String(e.payload.message).slice('skipped '.length) }));

  return (
    <section className="card" aria-label="Enrollment">
      <div className="page-header">
        <h2>Enrollment</h2>
        {job && <StatusBadge status={job.status} />}
        <ConnectionIndicator connection={connection} />
        <Link className="push-right" to={`/jobs/${jobId}`}>
          Job #{jobId}
        </Link>
      </div>
      <ProgressBar value={job?.progress ?? 0} label="Enrollment progress" />
      <p className="job-message" data-testid="enrollment-message">
        {message || 'Waiting for the worker…'}
        {photos && !message.includes(`${photos.done} of ${photos.total}`) &&
          ` — ${photos.done} of ${photos.total} photos`}
      </p>
      {skipped.length > 0 && (
        <details className="skipped">
          <summary data-testid="enrollment-skipped">
            {skipped.length} photo{skipped.length === 1 ? '' : 's'} skipped so far
          </summary>
          <ul>
            {skipped.map((s) => (
              <li key={s.id}>{s.text}</li>
            ))}
          </ul>
        </details>
      )}
      {job?.error && <ErrorMessage error={`Error: ${job.error}`} />}
    </section>
  );
}
