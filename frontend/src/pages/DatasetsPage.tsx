import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { messageOf } from '../api';
import { DatasetStatusBadge } from '../components/DatasetStatusBadge';
import { ErrorMessage } from '../components/ErrorMessage';
import { ListCard } from '../components/ListCard';
import { createDataset, listDatasets } from '../datasets';
import { formatTime } from '../jobs';
import { usePageList } from '../usePageList';

/** The user's datasets (newest first) and a form to start a new one. No polling. */
export function DatasetsPage() {
  const navigate = useNavigate();
  const { items: datasets, count, error, reload: load } = usePageList(listDatasets);
  const [name, setName] = useState('');
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<string | null>(null);

  async function onCreate(e: FormEvent) {
    e.preventDefault();
    if (!name.trim()) {
      setCreateError('Give the dataset a name.');
      return;
    }
    setCreating(true);
    setCreateError(null);
    try {
      const dataset = await createDataset(name.trim());
      navigate(`/datasets/${dataset.id}`);
    } catch (err) {
      setCreateError(messageOf(err));
      setCreating(false);
    }
  }

  return (
    <>
      <div className="page-header">
        <h1>Datasets</h1>
        <button type="button" className="btn btn-ghost" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      <form className="card form-inline" onSubmit={onCreate}>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder="casia-webface" />
        </label>
        <button type="submit" className="btn btn-primary" disabled={creating}>
          New dataset
        </button>
        <ErrorMessage error={createError} />
      </form>
      <ErrorMessage error={error} />
      <ListCard
        items={datasets}
        count={count}
        error={error}
        noun="datasets"
        empty={<p className="muted">No datasets yet. Create one, then upload its RecordIO files.</p>}
      >
        {(rows) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th className="num">Images</th>
                <th className="num">Identities</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr
                  key={d.id}
                  className="row-link"
                  data-testid={`dataset-row-${d.id}`}
                  onClick={() => navigate(`/datasets/${d.id}`)}
                >
                  <td>
                    <Link to={`/datasets/${d.id}`} onClick={(e) => e.stopPropagation()}>
                      {d.name}
                    </Link>
                  </td>
                  <td>
                    <DatasetStatusBadge status={d.status} />
                  </td>
                  <td className="num">{d.status === 'ready' ? d.images.toLocaleString('en-US') : '—'}</td>
                  <td className="num">{d.status === 'ready' ? d.identities.toLocaleString('en-US') : '—'}</td>
                  <td>{formatTime(d.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
    </>
  );
}
