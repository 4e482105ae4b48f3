import { useEffect, useRef } from 'react';
import { Link } from 'react-router-dom';
import { formatBytes } from '../datasets';
import { isTerminal } from '../jobs';
import type { Job } from '../types';
import { useJobStream } from '../useJobStream';
import { ConnectionIndicator } from './ConnectionIndicator';
import { ErrorMessage } from './ErrorMessage';
import { ProgressBar } from './ProgressBar';
import { StatusBadge } from './StatusBadge';

/** Live progress of a dataset's extraction job (websocket); calls onFinished once when it ends. */
export function ExtractionProgress({ jobId, onFinished }: { jobId: number; onFinished: (job: Job) => void }) {
  const { job, events, connection } = useJobStream(jobId);
  const notified = useRef(false);

  useEffect(() => {
    if (job && isTerminal(job.status) && !notified.current) {
      notified.current = true;
      onFinished(job);
    }
  }, [job, onFinished]);

  let bytes: { done: number; total: number } | null = null;
  for (let i = events.length - 1; i >= 0 && !bytes; i--) {
    const p = events[i].payload;
    if (typeof p.bytes_done === 'number' && typeof p.bytes_total === 'number') {
      bytes = { done: p.bytes_done, total: p.bytes_total };
    }
  }

  return (
    <section className="card" aria-label="Extraction">
      <div className="page-header">
        <h2>Extraction</h2>
        {job && <StatusBadge status={job.status} />}
        <ConnectionIndicator connection={connection} />
        <Link className="push-right" to={`/jobs/${jobId}`}>
          Job #{jobId}
        </Link>
      </div>
      <ProgressBar value={job?.progress ?? 0} label="Extraction progress" />
      <p className="job-message" data-testid="extraction-message">
        {job?.message || 'Waiting for the worker…'}
        {bytes && bytes.total > 0 && ` — ${formatBytes(bytes.done)} of ${formatBytes(bytes.total)}`}
      </p>
      {job?.error && <ErrorMessage error={`Error: ${job.error}`} />}
    </section>
  );
}
