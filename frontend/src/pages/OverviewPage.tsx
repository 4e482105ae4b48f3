import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { messageOf } from '../api';
import { DatasetStatusBadge } from '../components/DatasetStatusBadge';
import { ErrorMessage } from '../components/ErrorMessage';
import { JobsTable } from '../components/JobsTable';
import { PrivateBadge } from '../components/PrivateBadge';
import { getOverview } from '../overview';
import { formatDelta, formatEpsilon } from '../training';
import type { Overview } from '../types';

/** The home page: recent jobs, datasets and models, and the privacy spent per dataset. */
export function OverviewPage() {
  const [overview, setOverview] = useState<Overview | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setOverview(await getOverview());
    } catch (err) {
      setError(messageOf(err));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <>
      <div className="page-header">
        <h1>Overview</h1>
        <button type="button" className="btn btn-ghost push-right" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      {overview === null ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <div className="stats" data-testid="overview-stats">
            <Stat label="Jobs" value={overview.jobs.total} note={`${overview.jobs.active} queued or running`} />
            <Stat label="Datasets" value={overview.datasets.total} note={`${overview.datasets.ready} ready`} />
            <Stat label="Models" value={overview.models.total} note={`${overview.models.private} with DP`} />
            <Stat
              label="Largest ε spent"
              value={overview.privacy.length ? formatEpsilon(overview.privacy[0].epsilon) : '—'}
              note={overview.privacy.length ? `on ${overview.privacy[0].name}` : 'no DP training yet'}
              epsilon
            />
          </div>

          <section className="card">
            <div className="page-header">
              <h2>Recent jobs</h2>
              <Link to="/jobs" className="push-right">
                All jobs
              </Link>
            </div>
            <JobsTable jobs={overview.jobs.recent} />
          </section>

          <section className="card" data-testid="overview-datasets">
            <div className="page-header">
              <h2>Datasets</h2>
              <Link to="/datasets" className="push-right">
                All datasets
              </Link>
            </div>
            {overview.datasets.recent.length === 0 ? (
              <p className="muted">
                No datasets yet. <Link to="/datasets">Upload one</Link>.
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Status</th>
                    <th>Images</th>
                    <th>Identities</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.datasets.recent.map((d) => (
                    <tr key={d.id}>
                      <td>
                        <Link to={`/datasets/${d.id}`}>{d.name}</Link>
                      </td>
                      <td>
                        <DatasetStatusBadge status={d.status} />
                      </td>
                      <td>{d.images.toLocaleString('en-US')}</td>
                      <td>{d.identities.toLocaleString('en-US')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card" data-testid="overview-models">
            <div className="page-header">
              <h2>Models</h2>
              <Link to="/models" className="push-right">
                All models
              </Link>
            </div>
            {overview.models.recent.length === 0 ? (
              <p className="muted">
                No models yet. <Link to="/training">Train one</Link> on a ready dataset.
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th>Name</th>
                    <th>Privacy</th>
                    <th>ε</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.models.recent.map((m) => (
                    <tr key={m.id}>
                      <td>
                        <Link to={`/models/${m.id}`}>{m.name}</Link>
                      </td>
                      <td>
                        <PrivateBadge isPrivate={m.private} />
                      </td>
                      <td>{m.private ? formatEpsilon(m.epsilon) : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>

          <section className="card" data-testid="overview-privacy">
            <h2>Privacy spent per dataset</h2>
            {overview.privacy.length === 0 ? (
              <p className="muted">No differentially private training has used your datasets yet.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr>
                    <th>Dataset</th>
                    <th>ε spent</th>
                    <th>δ</th>
                    <th>DP runs</th>
                  </tr>
                </thead>
                <tbody>
                  {overview.privacy.map((p) => (
                    <tr key={p.dataset}>
                      <td>
                        <Link to={`/datasets/${p.dataset}`}>{p.name}</Link>
                      </td>
                      <td>{formatEpsilon(p.epsilon)}</td>
                      <td>{formatDelta(p.delta)}</td>
                      <td>{p.runs}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <p className="muted">Runs on the same dataset compose: their ε and δ add up.</p>
          </section>
        </>
      )}
    </>
  );
}

function Stat({ label, value, note, epsilon }: { label: string; value: number | string; note: string; epsilon?: boolean }) {
  return (
    <div className={epsilon ? 'stat stat-epsilon' : 'stat'}>
      <span className="stat-label">{label}</span>
      <span className="stat-value">{value}</span>
      <span className="stat-note">{note}</span>
    </div>
  );
}
