import { useCallback, useEffect, useState } from 'react';
import type { FormEvent } from 'react';
import { Link, useLocation, useNavigate, useParams } from 'react-router-dom';
import { ApiError, messageOf } from '../api';
import { EmbedderName } from '../components/EmbedderName';
import { EnrollmentProgress } from '../components/EnrollmentProgress';
import { ErrorMessage } from '../components/ErrorMessage';
import { GalleryStatusBadge } from '../components/GalleryStatusBadge';
import {
  LabelledPhotosFields,
  labelledPhotosProblem,
  NO_PHOTOS,
  toPhotoLabels,
} from '../components/LabelledPhotosFields';
import type { LabelledPhotos } from '../components/LabelledPhotosFields';
import {
  addPhotos,
  deleteGallery,
  formatRate,
  getGallery,
  isSearchable,
  modelText,
  MODE_LABELS,
  privacyText,
  setGalleryThreshold,
} from '../galleries';
import { formatTime, getJob } from '../jobs';
import type { Gallery } from '../types';
import type { GalleryPageState } from './GalleriesPage';

/** After the job's terminal event the gallery row may lag a moment (failure hooks run on commit). */
const SETTLE_DELAY_MS = 1500;

export function GalleryPage() {
  const { id } = useParams();
  const galleryId = Number(id);
  if (!Number.isInteger(galleryId) || galleryId <= 0) {
    return <ErrorMessage error={`Invalid gallery id “${id}”.`} />;
  }
  return <GalleryDetail key={galleryId} galleryId={galleryId} />;
}

function GalleryDetail({ galleryId }: { galleryId: number }) {
  const navigate = useNavigate();
  const location = useLocation();
  // Photos refused right after the gallery was created (shown once, not again after a reload).
  const [uploadError] = useState(() => (location.state as GalleryPageState | null)?.uploadError ?? null);
  const [gallery, setGallery] = useState<Gallery | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState(false);

  const load = useCallback(async () => {
    try {
      setGallery(await getGallery(galleryId));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? 'Gallery not found.' : messageOf(err));
    }
  }, [galleryId]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    if (uploadError) navigate(location.pathname, { replace: true, state: null });
  }, [uploadError, navigate, location.pathname]);

  // The job ended: one GET for the outcome (and one more if the gallery has not caught up yet).
  const onJobFinished = useCallback(async () => {
    try {
      let fresh = await getGallery(galleryId);
      if (fresh.status === 'enrolling') {
        await new Promise((r) => setTimeout(r, SETTLE_DELAY_MS));
        fresh = await getGallery(galleryId);
      }
      setGallery(fresh);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [galleryId]);

  async function onDelete() {
    if (!gallery) return;
    if (!window.confirm(`Delete gallery “${gallery.name}” and its encrypted templates? This cannot be undone.`)) return;
    setDeleting(true);
    setError(null);
    try {
      await deleteGallery(galleryId);
      navigate('/galleries', { replace: true });
    } catch (err) {
      setError(messageOf(err));
      setDeleting(false);
    }
  }

  const searchable = gallery !== null && isSearchable(gallery);

  return (
    <>
      <p>
        <Link to="/galleries">← All galleries</Link>
      </p>
      <div className="page-header">
        <h1>{gallery ? gallery.name : `Gallery #${galleryId}`}</h1>
        {gallery && <GalleryStatusBadge status={gallery.status} />}
        {gallery && (
          <div className="push-right header-actions">
            {searchable && (
              <Link className="btn btn-primary" to={`/search?gallery=${galleryId}`}>
                Search this gallery
              </Link>
            )}
            <button type="button" className="btn btn-danger" onClick={onDelete} disabled={deleting}>
              {deleting ? 'Deleting…' : 'Delete gallery'}
            </button>
          </div>
        )}
      </div>
      <ErrorMessage error={error} />
      {!gallery ? (
        !error && <p className="muted">Loading…</p>
      ) : (
        <>
          {gallery.status === 'enrolling' &&
            (gallery.job ? (
              <EnrollmentProgress key={gallery.job} jobId={gallery.job} onFinished={onJobFinished} />
            ) : (
              <p className="muted">Waiting for the enrollment job…</p>
            ))}

          {gallery.status === 'failed' ? (
            <section className="card card-failed" aria-label="Enrollment failed">
              <h2>Enrollment failed</h2>
              <div className="error error-big" role="alert" data-testid="gallery-error">
                {gallery.error || 'The enrollment failed without a message.'}
              </div>
              {gallery.job && (
                <p>
                  Details in <Link to={`/jobs/${gallery.job}`}>job #{gallery.job}</Link>.
                  {gallery.source === 'images' ? ' Add photos again below, or delete the gallery.' : ' Delete the gallery and create it again to retry.'}
                </p>
              )}
            </section>
          ) : (
            gallery.error && (
              <div className="error" role="alert" data-testid="gallery-error">
                {gallery.error}
              </div>
            )
          )}

          <GallerySummary gallery={gallery} />
          {gallery.status !== 'empty' && <ThresholdCard gallery={gallery} onChanged={setGallery} />}
          {gallery.skipped > 0 && gallery.job && gallery.status !== 'enrolling' && (
            <SkippedPhotos key={`${gallery.job}-${gallery.version}`} jobId={gallery.job} />
          )}
          {gallery.source === 'images' && (
            <AddPhotosForm gallery={gallery} onStarted={setGallery} initialError={uploadError} />
          )}
        </>
      )}
    </>
  );
}

function GallerySummary({ gallery: g }: { gallery: Gallery }) {
  const n = (v: number) => v.toLocaleString('en-US');
  return (
    <section className="card" aria-label="Summary">
      <h2>Summary</h2>
      {g.status === 'empty' && <p className="muted">No photos yet: add labelled photos below to enroll identities.</p>}
      <dl className="details details-wide">
        <dt>Source</dt>
        <dd>
          {g.source === 'dataset' ? (
            g.dataset ? (
              <>
                dataset <Link to={`/datasets/${g.dataset}`}>#{g.dataset}</Link>
              </>
            ) : (
              'dataset (deleted)'
            )
          ) : (
            'labelled photos'
          )}
        </dd>
        <dt>Templates</dt>
        <dd>
          <span data-testid="gallery-templates">{n(g.templates)}</span>{' '}
          <span className="muted small">— {MODE_LABELS[g.mode]}</span>
        </dd>
        <dt>Identities</dt>
        <dd data-testid="gallery-identities">{n(g.identities)}</dd>
        <dt>Photos enrolled</dt>
        <dd data-testid="gallery-photos">{n(g.photos)}</dd>
        <dt>Photos skipped</dt>
        <dd>
          <span data-testid="gallery-skipped">{n(g.skipped)}</span>
          {g.skipped > 0 && <span className="muted small"> — no face found or unreadable</span>}
        </dd>
        <dt>Embedder</dt>
        <dd>
          <EmbedderName embedder={g.embedder} />
          {g.embedder.dim ? <span className="muted small"> {g.embedder.dim}-d</span> : null}
        </dd>
        <dt>Model</dt>
        <dd data-testid="gallery-model">
          {g.embedder.model ? <Link to={`/models/${g.embedder.model.id}`}>{modelText(g.embedder)}</Link> : modelText(g.embedder)}
        </dd>
        <dt>Privacy</dt>
        <dd data-testid="gallery-privacy">{privacyText(g.embedder)}</dd>
        <dt>Threshold</dt>
        <dd>
          <span data-testid="gallery-threshold">{g.threshold ?? '—'}</span>{' '}
          <span className="muted small">
            {g.threshold_override != null
              ? 'set by you'
              : g.calibration && 'method' in g.calibration && g.calibration.method !== 'default'
                ? `calibrated for FPIR ${formatRate(g.fpir_target)}`
                : "the model's default"}
          </span>
        </dd>
        <dt>Version</dt>
        <dd>{g.version}</dd>
        <dt>Created</dt>
        <dd>{formatTime(g.created_at)}</dd>
        {g.job && (
          <>
            <dt>Enrollment</dt>
            <dd>
              <Link to={`/jobs/${g.job}`}>job #{g.job}</Link>
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

/** The gallery's open-set threshold: what it was calibrated on, its estimated rates, the owner's override. */
function ThresholdCard({ gallery: g, onChanged }: { gallery: Gallery; onChanged: (g: Gallery) => void }) {
  const cal = g.calibration && 'method' in g.calibration ? g.calibration : null;
  const [value, setValue] = useState(g.threshold_override != null ? String(g.threshold_override) : '');
  const [fpir, setFpir] = useState(String(100 * g.fpir_target));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(threshold: number | null) {
    const target = Number(fpir) / 100;
    if (!(target > 0 && target <= 0.5)) return setError('The FPIR target is a percentage between 0.01 and 50.');
    if (threshold != null && !(threshold >= -1 && threshold <= 1)) return setError('A threshold is a cosine score between -1 and 1.');
    setBusy(true);
    setError(null);
    try {
      const fresh = await setGalleryThreshold(g.id, threshold, target);
      setValue(fresh.threshold_override != null ? String(fresh.threshold_override) : '');
      onChanged(fresh);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    void save(value.trim() === '' ? null : Number(value));
  }

  const override = cal?.override;
  return (
    <section className="card" aria-label="Open-set threshold">
      <h2>Open-set threshold</h2>
      <p className="muted small">
        A search answers “no match” below the threshold. It is chosen so that someone who was never enrolled is
        matched to anyone in this gallery with at most the target false-positive identification rate (FPIR) at its
        size, from the gallery&apos;s own photos: impostor pairs between different people, genuine pairs left out
        of each person&apos;s template.
      </p>
      {cal && (
        <dl className="details details-wide" data-testid="calibration">
          <dt>Calibrated threshold</dt>
          <dd>
            {cal.threshold ?? '—'} <span className="muted small">({cal.method}{cal.method === 'default' ? ': too few pairs to calibrate' : ''})</span>
          </dd>
          <dt>FPIR target</dt>
          <dd>
            {formatRate(cal.fpir_target)} at {cal.gallery_size ?? g.templates} templates
          </dd>
          <dt>Estimated FPIR</dt>
          <dd data-testid="calibration-fpir">
            {formatRate(cal.fpir)} <span className="muted small">(95 % bound {formatRate(cal.fpir_upper)}) from {cal.impostor_pairs ?? 0} impostor pairs</span>
          </dd>
          <dt>Estimated FNIR</dt>
          <dd data-testid="calibration-fnir">
            {formatRate(cal.fnir)} <span className="muted small">from {cal.genuine_pairs ?? 0} genuine pairs</span>
          </dd>
          {(cal.strangers ?? 0) > 0 && (
            <>
              <dt>Background photos matched</dt>
              <dd>
                {formatRate(cal.stranger_fpir)} <span className="muted small">of {cal.strangers}</span>
              </dd>
            </>
          )}
          {override && (
            <>
              <dt>Your threshold</dt>
              <dd data-testid="override-rates">
                {override.threshold}: FPIR {formatRate(override.fpir)} (bound {formatRate(override.fpir_upper)}), FNIR{' '}
                {formatRate(override.fnir)}
              </dd>
            </>
          )}
        </dl>
      )}
      <form className="form-row" onSubmit={onSubmit} aria-label="Set threshold">
        <label>
          Your threshold
          <input
            value={value}
            onChange={(e) => setValue(e.target.value)}
            placeholder={cal?.threshold != null ? String(cal.threshold) : 'calibrated'}
            inputMode="decimal"
            aria-label="Threshold override"
          />
        </label>
        <label>
          FPIR target (%)
          <input value={fpir} onChange={(e) => setFpir(e.target.value)} inputMode="decimal" aria-label="FPIR target" />
        </label>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy || g.status === 'enrolling'}>
            {busy ? 'Saving…' : 'Save'}
          </button>
          {g.threshold_override != null && (
            <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => void save(null)}>
              Use the calibrated one
            </button>
          )}
        </div>
      </form>
      <ErrorMessage error={error} />
    </section>
  );
}

interface SkippedPhoto {
  photo: string;
  reason: string;
}

/** The photos the latest enrollment left out (from its job result; one GET). */
function SkippedPhotos({ jobId }: { jobId: number }) {
  const [skipped, setSkipped] = useState<SkippedPhoto[] | null>(null);

  useEffect(() => {
    let live = true;
    getJob(jobId)
      .then((job) => {
        const list = job.result?.skipped_photos;
        if (live) setSkipped(Array.isArray(list) ? (list as SkippedPhoto[]) : []);
      })
      .catch(() => live && setSkipped([]));
    return () => {
      live = false;
    };
  }, [jobId]);

  if (!skipped || skipped.length === 0) return null;
  return (
    <section className="card" aria-label="Skipped photos">
      <h2>Skipped in the latest enrollment</h2>
      <ul className="skipped-list" data-testid="skipped-photos">
        {skipped.map((s, i) => (
          <li key={i}>
            <code>{s.photo}</code>: {s.reason}
          </li>
        ))}
      </ul>
    </section>
  );
}

function AddPhotosForm({
  gallery,
  onStarted,
  initialError,
}: {
  gallery: Gallery;
  onStarted: (g: Gallery) => void;
  initialError: string | null;
}) {
  const [photos, setPhotos] = useState<LabelledPhotos>(NO_PHOTOS);
  const [aligned, setAligned] = useState(false);
  const [background, setBackground] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(initialError);
  // A new form (fresh file inputs) after each accepted upload.
  const [round, setRound] = useState(0);
  const enrolling = gallery.status === 'enrolling';

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    // Background photos need no labels: only the number of photos is checked for them.
    const problem = labelledPhotosProblem(background ? { ...photos, csv: null, labels: photos.files.map(() => '-') } : photos);
    if (problem) return setError(problem);
    setBusy(true);
    setError(null);
    try {
      const { gallery: fresh } = await addPhotos(gallery.id, photos.files, toPhotoLabels(photos), {
        aligned,
        background,
      });
      setPhotos(NO_PHOTOS);
      setRound((r) => r + 1);
      onStarted(fresh);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={onSubmit} aria-label="Add photos">
      <h2>Add photos</h2>
      {enrolling && <p className="muted">Photos can be added when the running enrollment has finished.</p>}
      <LabelledPhotosFields key={round} value={photos} onChange={setPhotos} disabled={busy || enrolling} />
      <label className="checkbox">
        <input type="checkbox" checked={aligned} onChange={(e) => setAligned(e.target.checked)} /> 112×112 photos
        are aligned face crops (skip face detection)
      </label>
      {gallery.templates > 0 && (
        <label className="checkbox">
          <input type="checkbox" checked={background} onChange={(e) => setBackground(e.target.checked)} /> these
          are people who are NOT enrolled (background: they only calibrate the threshold; labels are ignored)
        </label>
      )}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy || enrolling}>
          {busy ? `Uploading ${photos.files.length} photos…` : 'Add photos'}
        </button>
      </div>
      <ErrorMessage error={error} />
    </form>
  );
}
