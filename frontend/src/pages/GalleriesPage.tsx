import { useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { messageOf } from '../api';
import { EmbedderName } from '../components/EmbedderName';
import { ErrorMessage } from '../components/ErrorMessage';
import { ListCard } from '../components/ListCard';
import { GalleryStatusBadge } from '../components/GalleryStatusBadge';
import {
  LabelledPhotosFields,
  labelledPhotosProblem,
  NO_PHOTOS,
  toPhotoLabels,
} from '../components/LabelledPhotosFields';
import type { LabelledPhotos } from '../components/LabelledPhotosFields';
import { listDatasets } from '../datasets';
import { addPhotos, createDatasetGallery, createImagesGallery, listGalleries, MODE_LABELS } from '../galleries';
import { formatTime } from '../jobs';
import { listModels } from '../training';
import type { Dataset, GalleryMode, GallerySource, TrainedModel } from '../types';
import { usePageList } from '../usePageList';

/** Router state handed to the gallery page when its photos were not accepted. */
export interface GalleryPageState {
  uploadError?: string;
}

/** The user's galleries and a form to create one from a ready dataset or from labelled photos. No polling. */
export function GalleriesPage() {
  const { items: galleries, count, error, reload: reloadGalleries } = usePageList(listGalleries);
  const { items: datasets, error: datasetsLoadError, reload: reloadDatasets } = usePageList(listDatasets);
  // Without the registry (an error: no items) the form still offers the reference embedder.
  const { items: models, reload: reloadModels } = usePageList(listModels);
  const datasetsError = datasetsLoadError && `Could not list your datasets: ${datasetsLoadError}`;

  function load() {
    void reloadGalleries();
    void reloadDatasets();
    void reloadModels();
  }

  const datasetName = (id: number | null) => datasets?.find((d) => d.id === id)?.name;

  return (
    <>
      <div className="page-header">
        <h1>Galleries</h1>
        <button type="button" className="btn btn-ghost" onClick={load}>
          Refresh
        </button>
      </div>
      <ErrorMessage error={error} />
      <ListCard
        items={galleries}
        count={count}
        error={error}
        noun="galleries"
        empty={<p className="muted">No galleries yet. Create one below from a ready dataset or from labelled photos.</p>}
      >
        {(rows) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Status</th>
                <th>Source</th>
                <th className="num">Identities</th>
                <th className="num">Templates</th>
                <th>Embedder</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((g) => (
                <tr key={g.id} data-testid={`gallery-row-${g.id}`}>
                  <td>
                    <Link to={`/galleries/${g.id}`}>{g.name}</Link>
                  </td>
                  <td>
                    <GalleryStatusBadge status={g.status} />
                  </td>
                  <td>
                    {g.source === 'dataset'
                      ? `dataset ${datasetName(g.dataset) ?? (g.dataset ? `#${g.dataset}` : '(deleted)')}`
                      : 'labelled photos'}
                  </td>
                  <td className="num">{g.identities.toLocaleString('en-US')}</td>
                  <td className="num">{g.templates.toLocaleString('en-US')}</td>
                  <td>
                    <EmbedderName embedder={g.embedder} />
                  </td>
                  <td>{formatTime(g.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ListCard>
      <CreateGalleryForm datasets={datasets} datasetsError={datasetsError} models={models} />
    </>
  );
}

/** Ready datasets whose images were extracted (the only ones a gallery can enroll). */
function usableDatasets(datasets: Dataset[] | null): Dataset[] {
  return (datasets ?? []).filter((d) => d.status === 'ready' && d.extract_images);
}

/** Models of the registry a gallery can embed with (an exported backbone). */
function usableModels(models: TrainedModel[] | null | undefined): TrainedModel[] {
  return (models ?? []).filter((m) => m.ready !== false);
}

/** "name — ε 7.92, δ 1e-3 (per one image)" or "name — not private". */
export function modelOptionLabel(m: TrainedModel): string {
  if (!m.private) return `${m.name} — not private (trained without DP)`;
  const eps = m.epsilon != null ? `ε ${m.epsilon.toFixed(2)}` : 'ε unknown';
  const delta = m.delta != null ? `δ ${m.delta.toExponential(0)}` : 'δ unknown';
  return `${m.name} — ${eps}, ${delta}${m.dp_unit ? ` (${m.dp_unit.split(' (')[0]})` : ''}`;
}

export function CreateGalleryForm({
  datasets,
  datasetsError,
  models,
}: {
  datasets: Dataset[] | null;
  datasetsError?: string | null;
  models?: TrainedModel[] | null;
}) {
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [source, setSource] = useState<GallerySource>('dataset');
  const [mode, setMode] = useState<GalleryMode>('mean');
  const [datasetId, setDatasetId] = useState('');
  const [photos, setPhotos] = useState<LabelledPhotos>(NO_PHOTOS);
  const [modelId, setModelId] = useState('');
  const [aligned, setAligned] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const ready = usableDatasets(datasets);
  // Default to the first ready dataset once the list arrives.
  const chosenDataset = datasetId || (ready[0] ? String(ready[0].id) : '');

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    const trimmed = name.trim();
    if (!trimmed) return setError('Give the gallery a name.');
    if (source === 'dataset' && !chosenDataset) return setError('Choose a ready dataset.');
    if (source === 'images') {
      const problem = labelledPhotosProblem(photos);
      if (problem) return setError(problem);
    }
    const options = { model: modelId ? Number(modelId) : null };
    try {
      if (source === 'dataset') {
        setBusy('Creating…');
        const { gallery } = await createDatasetGallery(trimmed, Number(chosenDataset), mode, options);
        navigate(`/galleries/${gallery.id}`);
        return;
      }
      setBusy('Creating…');
      const { gallery } = await createImagesGallery(trimmed, mode, options);
      setBusy(`Uploading ${photos.files.length} photos…`);
      try {
        await addPhotos(gallery.id, photos.files, toPhotoLabels(photos), { aligned });
        navigate(`/galleries/${gallery.id}`);
      } catch (err) {
        // The gallery exists (empty): go there so the photos can be sent again.
        const state: GalleryPageState = { uploadError: `The photos were not accepted: ${messageOf(err)}` };
        navigate(`/galleries/${gallery.id}`, { state });
      }
    } catch (err) {
      setError(messageOf(err));
      setBusy(null);
    }
  }

  return (
    <form className="card create-gallery" onSubmit={onSubmit} aria-label="New gallery">
      <h2>New gallery</h2>
      <div className="form-row">
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} maxLength={100} placeholder="friends" />
        </label>
        <label>
          Templates
          <select value={mode} onChange={(e) => setMode(e.target.value as GalleryMode)}>
            <option value="mean">{MODE_LABELS.mean}</option>
            <option value="all">{MODE_LABELS.all}</option>
          </select>
        </label>
        <label>
          Embedder
          <select value={modelId} onChange={(e) => setModelId(e.target.value)} aria-label="Embedder">
            <option value="">reference dlib ResNet — not private (public weights)</option>
            {usableModels(models).map((m) => (
              <option key={m.id} value={m.id}>
                {modelOptionLabel(m)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <fieldset className="source-choice">
        <legend>Source</legend>
        <label className="radio">
          <input
            type="radio"
            name="gallery-source"
            value="dataset"
            checked={source === 'dataset'}
            onChange={() => setSource('dataset')}
          />
          from a dataset
        </label>
        <label className="radio">
          <input
            type="radio"
            name="gallery-source"
            value="images"
            checked={source === 'images'}
            onChange={() => setSource('images')}
          />
          from labelled photos
        </label>
      </fieldset>

      {source === 'dataset' ? (
        <div className="form-row">
          {datasets === null && !datasetsError ? (
            <p className="muted">Loading datasets…</p>
          ) : ready.length === 0 ? (
            <p className="muted" data-testid="no-ready-datasets">
              No ready dataset with extracted images. Upload and extract one on the{' '}
              <Link to="/datasets">Datasets</Link> page, or use labelled photos.
            </p>
          ) : (
            <label>
              Dataset
              <select value={chosenDataset} onChange={(e) => setDatasetId(e.target.value)}>
                {ready.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name} — {d.identities.toLocaleString('en-US')} identities, {d.images.toLocaleString('en-US')}{' '}
                    images
                  </option>
                ))}
              </select>
            </label>
          )}
          <ErrorMessage error={datasetsError} />
        </div>
      ) : (
        <>
          <LabelledPhotosFields value={photos} onChange={setPhotos} disabled={busy !== null} />
          <label className="checkbox">
            <input type="checkbox" checked={aligned} onChange={(e) => setAligned(e.target.checked)} /> 112×112
            photos are aligned face crops (skip face detection)
          </label>
        </>
      )}

      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy !== null}>
          {busy ?? 'Create gallery'}
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}
