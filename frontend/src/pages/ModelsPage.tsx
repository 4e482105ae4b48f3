import { Link } from 'react-router-dom';
import { ErrorMessage } from '../components/ErrorMessage';
import { ListCard } from '../components/ListCard';
import { PrivateBadge } from '../components/PrivateBadge';
import { listDatasets } from '../datasets';
import { formatTime } from '../jobs';
import { formatAccountant, formatAuc, formatDelta, formatEpsilon, formatPercent, listModels } from '../training';
import { usePageList } from '../usePageList';

/** The model registry: every trained model with its privacy and quality numbers. No polling. */
export function ModelsPage() {
  const { items: models, count, error, reload: reloadModels } = usePageList(listModels);
  // Dataset names are a nicety: without them (an error) the table shows ids.
  const { items: datasets, reload: reloadDatasets } = usePageList(listDatasets);

  function load() {
    void reloadModels();
    void reloadDatasets();
  }

  const datasetName = (id: number | null) => datasets?.find((d) => d.id === id)?.name;

  return (
    <>
      <div className="page-header">
        <h1>Models</h1>
        <div className="header-actions push-right">
          <Link to="/training" className="btn btn-primary">
            Train a model
          </Link>
          <button type="button" className="btn btn-ghost" onClick={load}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorMessage error={error} />
      <ListCard
        items={models}
        count={count}
        error={error}
        noun="models"
        empty={
          <p className="muted" data-testid="no-models">
            No models yet. <Link to="/training">Train one</Link> on a ready dataset.
          </p>
        }
      >
        {(rows) => (
          <table className="table" aria-label="Models">
            <thead>
              <tr>
                <th>Name</th>
                <th>Dataset</th>
                <th>Privacy</th>
                <th className="num greek">ε</th>
                <th className="num greek">δ</th>
                <th className="num" title="Verification accuracy on the dataset's evaluation pairs">
                  Verification
                </th>
                <th className="num" title="Membership-inference attack AUC (0.5: the attack does no better than chance)">
                  MIA AUC
                </th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id} data-testid={`model-row-${m.id}`}>
                  <td>
                    <Link to={`/models/${m.id}`}>{m.name || `Model #${m.id}`}</Link>
                  </td>
                  <td>
                    {m.dataset === null ? (
                      <span className="muted">(deleted)</span>
                    ) : (
                      <Link to={`/datasets/${m.dataset}`}>{datasetName(m.dataset) ?? `#${m.dataset}`}</Link>
                    )}
                  </td>
                  <td>
                    <PrivateBadge isPrivate={m.private} />
                  </td>
                  <td className="num" data-testid="model-epsilon" title={m.private ? formatAccountant(m.accountant) : undefined}>
                    {m.private ? formatEpsilon(m.epsilon) : '—'}
                  </td>
                  <td className="num">{m.private ? formatDelta(m.delta) : '—'}</td>
                  <td className="num">{formatPercent(m.verification_accuracy)}</td>
                  <td className="num">{formatAuc(m.mia_auc)}</td>
                  <td>{formatTime(m.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
    </>
  );
}
