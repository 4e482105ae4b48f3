import { formatBytes } from '../datasets';
import type { Job, JobEvent } from '../types';
import { JobProgress, latestFromEvents } from './JobProgress';

function extractionMessage(job: Job | null, events: JobEvent[]) {
  const bytes = latestFromEvents(events, (p) =>
    typeof p.bytes_done === 'number' && typeof p.bytes_total === 'number' ? { done: p.bytes_done, total: p.bytes_total } : null,
  );
  return (
    <>
      {job?.message || 'Waiting for the worker…'}
      {bytes && bytes.total > 0 && ` — ${formatBytes(bytes.done)} of ${formatBytes(bytes.total)}`}
    </>
  );
}

/** Live progress of a dataset's extraction job (websocket); calls onFinished once when it ends. */
export function ExtractionProgress({ jobId, onFinished }: { jobId: number; onFinished: (job: Job) => void }) {
  return <JobProgress title="Extraction" jobId={jobId} onFinished={onFinished} message={extractionMessage} />;
}
