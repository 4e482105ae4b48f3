import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { ErrorMessage } from '../components/ErrorMessage';
import { ModelCardView } from '../components/ModelCardView';
import { PrivateBadge } from '../components/PrivateBadge';
import { formatTime } from '../jobs';
import {
  deleteModel,
  formatAccountant,
  formatAuc,
  formatDelta,
  formatEpsilon,
  formatPercent,
  getModel,
  modelDownloadUrl,
} from '../training';
import type { TrainedModelDetail } from '../types';

export function ModelPage() {
  const { id } = useParams();
  const modelId = Number(id);
  if (!Number.isInteger(modelId) || modelId <= 0) {
    return <ErrorMessage error={`Invalid model id “${id}”.`} />;
  }
  return <ModelDetail key={modelId} modelId={modelId} />;
}

function ModelDetail({ modelId }: { modelId: number }) {
  const navigate = useNavigate();
  const [model, setModel] = useState<TrainedModelDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);

  useEffect(() => {
    let live = true;
    getModel(modelId)
      .then((m) => live && setModel(m))
      .catch((err) => live && setError(err instanceof ApiError && err.status === 404 ? 'Model not found.' : messageOf(err)));
    return () => {
      live = false;
    };
  }, [modelId]);

  async function onDelete() {
    if (!model) return;
    const spent = model.private
      ? ' The privacy it spent stays on the dataset’s ledger.'
      : '';
    if (!window.confirm(`Delete model “${model.name}” and its exported files? This cannot be undone.${spent}`)) return;
    setDeleting(true);
    setError(null);
    try {
      try {
        await deleteModel(modelId);
      } catch (err) {
        // Galleries embed with it: the server names them; delete them too only if the user says so.
        if (!(err instanceof ApiError && err.status === 409)) throw err;
        if (!window.confirm(`${messageOf(err)}\n\nDelete the model and these galleries?`)) {
          setDeleting(false);
          return;
        }
        await deleteModel(modelId, true);
      }
      navigate('/models', { replace: true });
    } catch (err) {
      setError(messageOf(err));
      setDeleting(false);
    }
  }

  return (
    <>
      <p>
        <Link to="/models">← All models</Link>
      </p>
      <div className="page-header">
        <h1>{model ? model.name || `Model #${modelId}` : `Model #${modelId}`}</h1>
        {model && <PrivateBadge isPrivate={model.private} />}
        {model && (
          <div className="header-actions push-right">
            <a className="btn btn-ghost" href={modelDownloadUrl(modelId)} download>
              Download (.zip)
            </a>
            <button type="button" className="btn btn-danger" onClick={onDelete} disabled={deleting}>
              {deleting ? 'Deleting…' : 'Delete model'}
            </button>
          </div>
        )}
      </div>
      <ErrorMessage error={error} />
      {!model ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          <section className="card" aria-label="Summary">
            <h2>Summary</h2>
            <dl className="details details-wide">
              <dt>Privacy</dt>
              <dd data-testid="model-privacy">
                {model.private ? (
                  <>
                    ε = <strong data-testid="model-epsilon">{formatEpsilon(model.epsilon)}</strong> at δ ={' '}
                    {formatDelta(model.delta)} ({formatAccountant(model.accountant)})
                  </>
                ) : (
                  'not private (trained without DP)'
                )}
              </dd>
              <dt>Verification accuracy</dt>
              <dd>{formatPercent(model.verification_accuracy)}</dd>
              <dt>MIA AUC</dt>
              <dd title="Membership-inference attack AUC: 0.5 means the attack does no better than chance">
                {formatAuc(model.mia_auc)}
              </dd>
              <dt>Dataset</dt>
              <dd>
                {model.dataset === null ? (
                  <span className="muted">(deleted)</span>
                ) : (
                  <Link to={`/datasets/${model.dataset}`}>
                    {typeof model.card?.data?.name === 'string' ? model.card.data.name : `dataset #${model.dataset}`}
                  </Link>
                )}
              </dd>
              <dt>Training job</dt>
              <dd>{model.job === null ? '—' : <Link to={`/jobs/${model.job}`}>job #{model.job}</Link>}</dd>
              <dt>Created</dt>
              <dd>{formatTime(model.created_at)}</dd>
            </dl>
          </section>
          <ModelCardView card={model.card ?? {}} />
        </>
      )}
    </>
  );
}
