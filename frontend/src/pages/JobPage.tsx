import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ConnectionIndicator } from '../components/ConnectionIndicator';
import { ErrorMessage } from '../components/ErrorMessage';
import { EventLog } from '../components/EventLog';
import { ProgressBar } from '../components/ProgressBar';
import { StatusBadge } from '../components/StatusBadge';
import { TrainingPanel } from '../components/TrainingPanel';
import { cancelJob, formatTime, getJob, isTerminal, JOB_EVENTS_PAGE, listJobEvents } from '../jobs';
import { addTrainingEvents, EMPTY_SERIES } from '../trainingSeries';
import type { TrainingSeries } from '../trainingSeries';
import { useJobStream } from '../useJobStream';

export function JobPage() {
  const { id } = useParams();
  const jobId = Number(id);
  if (!Number.isInteger(jobId) || jobId <= 0) {
    return <ErrorMessage error={`Invalid job id “${id}”.`} />;
  }
  return <JobDetail key={jobId} jobId={jobId} />;
}

/** At most this many pages of history (1000 events each) are loaded for the training charts. */
const MAX_HISTORY_PAGES = 100;

function JobDetail({ jobId }: { jobId: number }) {
  const [series, setSeries] = useState<TrainingSeries>(EMPTY_SERIES);
  const { job, setJob, events, connection } = useJobStream(jobId, {
    onEvent: (ev) => setSeries((s) => addTrainingEvents(s, [ev])),
  });
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const isTrain = job?.kind === 'train';
  const needsResult = isTrain && job.status === 'succeeded' && typeof job.result?.model_id !== 'number';

  // The websocket replays only the latest events: a training job's charts load the whole
  // history once (oldest first, pages of 1000); live events keep coming over the socket.
  useEffect(() => {
    if (!isTrain) return;
    let live = true;
    (async () => {
      let after = 0;
      for (let page = 0; page < MAX_HISTORY_PAGES && live; page++) {
        const batch = await listJobEvents(jobId, after);
        if (!live || !Array.isArray(batch) || batch.length === 0) return;
        setSeries((s) => addTrainingEvents(s, batch));
        if (batch.length < JOB_EVENTS_PAGE) return;
        after = batch[batch.length - 1].id;
      }
    })().catch((err) => live && setError(`Could not load the training history: ${messageOf(err)}`));
    return () => {
      live = false;
    };
  }, [jobId, isTrain]);

  // The final status event carries no result: one GET for it (the model id).
  useEffect(() => {
    if (!needsResult) return;
    let live = true;
    getJob(jobId)
      .then((fresh) => live && setJob((cur) => (cur ? { ...cur, result: fresh.result } : fresh)))
      .catch((err) => live && setError(messageOf(err)));
    return () => {
      live = false;
    };
  }, [jobId, needsResult, setJob]);

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
          {isTrain && <TrainingPanel job={job} series={series} />}
          <section className="card">
            <h2>Events</h2>
            <EventLog events={events} />
          </section>
        </>
      )}
    </>
  );
}
