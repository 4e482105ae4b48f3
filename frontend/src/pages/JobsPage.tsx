import { useCallback, useEffect, useState } from 'react';
import { messageOf } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { JobsTable } from '../components/JobsTable';
import { StartSelfTestForm } from '../components/StartSelfTestForm';
import { listJobs } from '../jobs';
import type { Job } from '../types';

/** The user's jobs. Loaded when the page is opened (and on "Refresh"); no polling. */
export function JobsPage() {
  const [jobs, setJobs] = useState<Job[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const page = await listJobs();
      setJobs(page.results);
      setCount(page.count);
    } catch (err) {
      setError(messageOf(err));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  function onCreated(job: Job) {
    setJobs((list) => [job, ...(list ?? []).filter((j) => j.id !== job.id)]);
    setCount((c) => c + 1);
  }

  return (
    <>
      <div className="page-header">
        <h1>Jobs</h1>
        <button type="button" className="btn btn-ghost" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <StartSelfTestForm onCreated={onCreated} />
      <ErrorMessage error={error} />
      <section className="card">
        {jobs === null ? <p className="muted">Loading…</p> : <JobsTable jobs={jobs} />}
        {jobs && count > jobs.length && (
          <p className="muted">
            Showing the newest {jobs.length} of {count} jobs.
          </p>
        )}
      </section>
    </>
  );
}
