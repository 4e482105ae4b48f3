import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ConnectionIndicator } from '../components/ConnectionIndicator';
import { ErrorMessage } from '../components/ErrorMessage';
import { EventLog } from '../components/EventLog';
import { FederatedPanel } from '../components/FederatedPanel';
import { ProgressBar } from '../components/ProgressBar';
import { StatusBadge } from '../components/StatusBadge';
import { TrainingPanel } from '../components/TrainingPanel';
import { addFederatedEvents, EMPTY_FEDERATED } from '../federatedSeries';
import type { FederatedSeries } from '../federatedSeries';
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

/** Job kinds whose page draws charts from the whole event history. */
const CHARTED = new Set(['train', 'federated']);

interface Charts {
  train: TrainingSeries;
  federated: FederatedSeries;
}
const EMPTY_CHARTS: Charts = { train: EMPTY_SERIES, federated: EMPTY_FEDERATED };

/** Fold events into both kinds' series (each ignores the other's events); same object when unchanged. */
function addEvents(charts: Charts, events: Parameters<typeof addTrainingEvents>[1]): Charts {
  const train = addTrainingEvents(charts.train, events);
  const federated = addFederatedEvents(charts.federated, events);
  return train === charts.train && federated === charts.federated ? charts : { train, federated };
}

function JobDetail({ jobId }: { jobId: number }) {
  const [charts, setCharts] = useState<Charts>(EMPTY_CHARTS);
  const { job, setJob, events, connection } = useJobStream(jobId, {
    onEvent: (ev) => setCharts((s) => addEvents(s, [ev])),
  });
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const isTrain = job?.kind === 'train';
  const isFederated = job?.kind === 'federated';
  const charted = job ? CHARTED.has(job.kind) : false;
  // A cancelled federated run keeps its model: its result is worth one GET too.
  const finishedWithModel = job?.status === 'succeeded' || (isFederated && job?.status === 'cancelled');
  const needsResult = charted && finishedWithModel && typeof job?.result?.model_id !== 'number';

  // The websocket replays only the latest events: a training job's charts load the whole
  // history once (oldest first, pages of 1000); live events keep coming over the socket.
  useEffect(() => {
    if (!charted) return;
    let live = true;
    (async () => {
      let after = 0;
      for (let page = 0; page < MAX_HISTORY_PAGES && live; page++) {
        const batch = await listJobEvents(jobId, after);
        if (!live || !Array.isArray(batch) || batch.length === 0) return;
        setCharts((s) => addEvents(s, batch));
        if (batch.length < JOB_EVENTS_PAGE) return;
        after = batch[batch.length - 1].id;
      }
    })().catch((err) => live && setError(`Could not load the training history: ${messageOf(err)}`));
    return () => {
      live = false;
    };
  }, [jobId, charted]);

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
          {isTrain && <TrainingPanel job={job} series={charts.train} />}
          {isFederated && <FederatedPanel job={job} series={charts.federated} />}
          <section className="card">
            <h2>Events</h2>
            <EventLog events={events} />
          </section>
        </>
      )}
    </>
  );
}
