import type { Job, JobEvent } from '../types';
import { JobProgress, latestFromEvents } from './JobProgress';

function enrollmentMessage(job: Job | null, events: JobEvent[]) {
  // The latest progress message (job.message also takes the text of log events).
  let message = job?.message ?? '';
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i];
    if (e.kind !== 'log' && typeof e.payload.message === 'string' && e.payload.message) {
      message = e.payload.message;
      break;
    }
  }
  const photos = latestFromEvents(events, (p) =>
    typeof p.photos_done === 'number' && typeof p.photos_total === 'number'
      ? { done: p.photos_done, total: p.photos_total }
      : null,
  );
  return (
    <>
      {message || 'Waiting for the worker…'}
      {photos && !message.includes(`${photos.done} of ${photos.total}`) && ` — ${photos.done} of ${photos.total} photos`}
    </>
  );
}

function SkippedPhotos({ events }: { events: JobEvent[] }) {
  // One `log` event per skipped photo ("skipped <photo>: <reason>").
  const skipped = events
    .filter((e) => e.kind === 'log' && typeof e.payload.message === 'string' && e.payload.message.startsWith('skipped '))
    .map((e) => ({ id: e.id, text: String(e.payload.message).slice('skipped '.length) }));
  if (skipped.length === 0) return null;
  return (
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
  );
}

/** Live progress of a gallery's enrollment job (websocket); calls onFinished once when it ends. */
export function EnrollmentProgress({ jobId, onFinished }: { jobId: number; onFinished: (job: Job) => void }) {
  return (
    <JobProgress title="Enrollment" jobId={jobId} onFinished={onFinished} message={enrollmentMessage}>
      {(events) => <SkippedPhotos events={events} />}
    </JobProgress>
  );
}
