import { useEffect, useRef, type ReactNode } from 'react';
import { Link } from 'react-router-dom';
import { isTerminal } from '../jobs';
import type { Job, JobEvent } from '../types';
import { useJobStream } from '../useJobStream';
import { ConnectionIndicator } from './ConnectionIndicator';
import { ErrorMessage } from './ErrorMessage';
import { ProgressBar } from './ProgressBar';
import { StatusBadge } from './StatusBadge';

/** The latest payload for which `pick` answers something (newest event first). */
export function latestFromEvents<T>(events: JobEvent[], pick: (payload: JobEvent['payload']) => T | null): T | null {
  for (let i = events.length - 1; i >= 0; i--) {
    const found = pick(events[i].payload);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Live progress card of a job (websocket): status, connection, link to the job page, progress
 * bar, message and error; calls onFinished once when the job ends. `message` renders the text
 * under the bar, `children` anything below it.
 */
export function JobProgress({
  title,
  jobId,
  onFinished,
  message,
  children,
}: {
  title: string;
  jobId: number;
  onFinished: (job: Job) => void;
  message: (job: Job | null, events: JobEvent[]) => ReactNode;
  children?: (events: JobEvent[]) => ReactNode;
}) {
  const { job, events, connection } = useJobStream(jobId);
  const notified = useRef(false);

  useEffect(() => {
    if (job && isTerminal(job.status) && !notified.current) {
      notified.current = true;
      onFinished(job);
    }
  }, [job, onFinished]);

  return (
    <section className="card" aria-label={title}>
      <div className="page-header">
        <h2>{title}</h2>
        {job && <StatusBadge status={job.status} />}
        <ConnectionIndicator connection={connection} />
        <Link className="push-right" to={`/jobs/${jobId}`}>
          Job #{jobId}
        </Link>
      </div>
      <ProgressBar value={job?.progress ?? 0} label={`${title} progress`} />
      <p className="job-message" data-testid={`${title.toLowerCase()}-message`}>
        {message(job, events)}
      </p>
      {children?.(events)}
      {job?.error && <ErrorMessage error={`Error: ${job.error}`} />}
    </section>
  );
}
