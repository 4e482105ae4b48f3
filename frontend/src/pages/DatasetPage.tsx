import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { DatasetStatusBadge } from '../components/DatasetStatusBadge';
import { ErrorMessage } from '../components/ErrorMessage';
import { ExtractionProgress } from '../components/ExtractionProgress';
import { IdentityOverviewCard } from '../components/IdentityOverviewCard';
import { PrivacyLedgerCard } from '../components/PrivacyLedgerCard';
import { UploadPanel } from '../components/UploadPanel';
import { ACTIVE_STATUSES, deleteDataset, formatBytes, getDataset } from '../datasets';
import { formatTime } from '../jobs';
import type { Dataset, Job } from '../types';
import { discardUploader } from '../upload/uploader';

/** After the job's terminal event the dataset row may lag a moment (failure hooks run on commit). */
const SETTLE_DELAY_MS = 1500;

export function DatasetPage() {
  const { id } = useParams();
  const datasetId = Number(id);
  if (!Number.isInteger(datasetId) || datasetId <= 0) {
    return <ErrorMessage error={`Invalid dataset id “${id}”.`} />;
  }
  return <DatasetDetail key={datasetId} datasetId={datasetId} />;
}

function imageSize(d: Dataset): string | null {
  const s = d.image_size;
  if (Array.isArray(s) && s.length >= 2) return `${s[0]} × ${s[1]}`;
  return typeof s === 'string' && s ? s : null;
}

function DatasetDetail({ datasetId }: { datasetId: number }) {
  const navigate = useNavigate();
  const [dataset, setDataset] = useState<Dataset | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);

  const load = useCallback(async () => {
    try {
      setDataset(await getDataset(datasetId));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? 'Dataset not found.' : messageOf(err));
    }
  }, [datasetId]);

  useEffect(() => {
    void load();
  }, [load]);

  // The job ended: one GET for the outcome (and one more if the dataset has not caught up yet).
  const onJobFinished = useCallback(async () => {
    try {
      let fresh = await getDataset(datasetId);
      if (ACTIVE_STATUSES.includes(fresh.status)) {
        await new Promise((r) => setTimeout(r, SETTLE_DELAY_MS));
        fresh = await getDataset(datasetId);
      }
      setDataset(fresh);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [datasetId]);

  const onFinalized = useCallback((job: Job) => {
    setDataset((d) => (d ? { ...d, status: 'validating', job: job.id, error: '' } : d));
  }, []);

  async function onDelete() {
    if (!dataset) return;
    if (!window.confirm(`Delete dataset “${dataset.name}” and all its files? This cannot be undone.`)) return;
    setDeleting(true);
    setError(null);
    try {
      await deleteDataset(datasetId);
      discardUploader(datasetId);
      navigate('/datasets', { replace: true });
    } catch (err) {
      setError(messageOf(err));
      setDeleting(false);
    }
  }

  return (
    <>
      <p>
        <Link to="/datasets">← All datasets</Link>
      </p>
      <div className="page-header">
        <h1>{dataset ? dataset.name : `Dataset #${datasetId}`}</h1>
        {dataset && <DatasetStatusBadge status={dataset.status} />}
        {dataset && (
          <button type="button" className="btn btn-danger push-right" onClick={onDelete} disabled={deleting}>
            {deleting ? 'Deleting…' : 'Delete dataset'}
          </button>
        )}
      </div>
      <ErrorMessage error={error} />
      {!dataset ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          {dataset.status === 'uploading' && <UploadPanel dataset={dataset} onFinalized={onFinalized} />}

          {ACTIVE_STATUSES.includes(dataset.status) &&
            (dataset.job ? (
              <ExtractionProgress key={dataset.job} jobId={dataset.job} onFinished={onJobFinished} />
            ) : (
              <p className="muted">Waiting for the extraction job…</p>
            ))}

          {dataset.status === 'failed' && (
            <section className="card card-failed" aria-label="Extraction failed">
              <h2>Extraction failed</h2>
              <div className="error error-big" role="alert" data-testid="dataset-error">
                {dataset.error || 'The extraction failed without a message.'}
              </div>
              {dataset.job && (
                <p>
                  Details in <Link to={`/jobs/${dataset.job}`}>job #{dataset.job}</Link>. Delete the dataset and upload the
                  files again to retry.
                </p>
              )}
            </section>
          )}

          {dataset.status === 'ready' && (
            <section className="card" aria-label="Summary">
              <h2>Summary</h2>
              <dl className="details">
                <dt>Layout</dt>
                <dd data-testid="dataset-layout">{dataset.layout || '—'}</dd>
                <dt>Images</dt>
                <dd data-testid="dataset-images">{dataset.images.toLocaleString('en-US')}</dd>
                <dt>Identities</dt>
                <dd data-testid="dataset-identities">{dataset.identities.toLocaleString('en-US')}</dd>
                {imageSize(dataset) && (
                  <>
                    <dt>Image size</dt>
                    <dd>{imageSize(dataset)}</dd>
                  </>
                )}
                <dt>Files</dt>
                <dd>
                  {dataset.files.map((f) => `${f.filename} (${formatBytes(f.size)})`).join(', ') || '—'}
                </dd>
                <dt>Created</dt>
                <dd>{formatTime(dataset.created_at)}</dd>
                {dataset.job && (
                  <>
                    <dt>Extraction</dt>
                    <dd>
                      <Link to={`/jobs/${dataset.job}`}>job #{dataset.job}</Link>
                    </dd>
                  </>
                )}
              </dl>
            </section>
          )}
          {dataset.status === 'ready' && <PrivacyLedgerCard datasetId={dataset.id} />}
          {dataset.status === 'ready' && <IdentityOverviewCard datasetId={dataset.id} />}
        </>
      )}
    </>
  );
}
