import { useCurrentUser } from '../auth';
import { ErrorMessage } from '../components/ErrorMessage';
import { JobsTable } from '../components/JobsTable';
import { StartSelfTestForm } from '../components/StartSelfTestForm';
import { listJobs } from '../jobs';
import type { Job } from '../types';
import { usePageList } from '../usePageList';

/** The user's jobs. Loaded when the page is opened (and on "Refresh"); no polling.
 * Staff also get the self-test form (selftest jobs are staff-only). */
export function JobsPage() {
  const user = useCurrentUser();
  const { items: jobs, setItems: setJobs, count, setCount, error, reload: load } = usePageList(listJobs);

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
      {user?.is_staff && <StartSelfTestForm onCreated={onCreated} />}
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
