import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ConnectionIndicator } from '../components/ConnectionIndicator';
import { ErrorMessage } from '../components/ErrorMessage';
import { EventLog } from '../components/EventLog';
import { ProgressBar } from '../components/ProgressBar';
import { StatusBadge } from '../components/StatusBadge';
import { cancelJob, formatTime, getJob, isTerminal } from '../jobs';
import { useJobStream } from '../useJobStream';

export function JobPage() {
  const { id } = useParams();
  const jobId = Number(id);
  if (!Number.isInteger(jobId) || jobId <= 0) {
    return <ErrorMessage error={`Invalid job id “${id}”.`} />;
  }
  return <JobDetail key={jobId} jobId={jobId} />;
}

function JobDetail({ jobId }: { jobId: number }) {
  const { job, setJob, events, connection } = useJobStream(jobId);
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);

  // One initial fetch so the page renders (and 404s) even before the socket is up;
  // all later updates come from the websocket.
  useEffect(() => {
    getJob(jobId)
      .then((fetched) => setJob((current) => current ?? fetched))
      .catch((err) => setError(err instanceof ApiError && err.status === 404 ? 'Job not found.' : messageOf(err)));
  }, [jobId, setJob]);

  async function onCancel() {
    setCancelling(true);
    setError(null);
    try {
      const res = await cancelJob(jobId);
      setJob((cur) => {
        if (!cur) return res;
        const done = isTerminal(res.status) && !isTerminal(cur.status);
        return { ...cur, cancel_requested: res.cancel_requested, ...(done ? { status: res.status, finished_at: res.finished_at } : {}) };
      });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setCancelling(false);
    }
  }

  const active = job && (job.status === 'queued' || job.status === 'running');
  return (
    <>
      <p>
        <Link to="/jobs">← All jobs</Link>
      </p>
      <div className="page-header">
        <h1>Job #{jobId}</h1>
        {job && <StatusBadge status={job.status} />}
        <ConnectionIndicator connection={connection} />
        {active && (
          <button
            type="button"
            className="btn btn-danger push-right"
            onClick={onCancel}
            disabled={cancelling || job.cancel_requested}
          >
            {job.cancel_requested ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </div>
      <ErrorMessage error={error} />
      {!job ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <section className="card">
            <ProgressBar value={job.progress} label="Job progress" />
            <p className="job-message">{job.message || '\u00a0'}</p>
            {job.error && <ErrorMessage error={`Error: ${job.error}`} />}
            <dl className="details">
              <dt>Kind</dt>
              <dd>{job.kind}</dd>
              <dt>Parameters</dt>
              <dd>
                <code>{JSON.stringify(job.params)}</code>
              </dd>
              <dt>Attempts</dt>
              <dd>{job.attempts}</dd>
              <dt>Created</dt>
              <dd>{formatTime(job.created_at)}</dd>
              <dt>Started</dt>
              <dd>{formatTime(job.started_at)}</dd>
              <dt>Finished</dt>
              <dd>{formatTime(job.finished_at)}</dd>
            </dl>
          </section>
          <section className="card">
            <h2>Events</h2>
            <EventLog events={events} />
          </section>
        </>
      )}
    </>
  );
}
