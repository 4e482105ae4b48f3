import { Link, useNavigate } from 'react-router-dom';
import { formatTime } from '../jobs';
import type { Job } from '../types';
import { ProgressBar } from './ProgressBar';
import { StatusBadge } from './StatusBadge';

export function JobsTable({ jobs }: { jobs: Job[] }) {
  const navigate = useNavigate();
  if (jobs.length === 0) return <p className="muted">No jobs yet.</p>;
  return (
    <table className="table">
      <thead>
        <tr>
          <th>ID</th>
          <th>Kind</th>
          <th>Status</th>
          <th className="col-progress">Progress</th>
          <th>Created</th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => (
          <tr
            key={job.id}
            className="row-link"
            data-testid={`job-row-${job.id}`}
            onClick={() => navigate(`/jobs/${job.id}`)}
          >
            <td>
              <Link to={`/jobs/${job.id}`} onClick={(e) => e.stopPropagation()}>
                #{job.id}
              </Link>
            </td>
            <td>{job.kind}</td>
            <td>
              <StatusBadge status={job.status} />
            </td>
            <td>
              <ProgressBar value={job.progress} label={`Job ${job.id} progress`} />
            </td>
            <td>{formatTime(job.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
