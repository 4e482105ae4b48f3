import { useCallback, useEffect, useRef, useState } from 'react';
import type { ChangeEvent, FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { messageOf } from '../api';
import { EmbedderName } from '../components/EmbedderName';
import { ErrorMessage } from '../components/ErrorMessage';
import { FacesFound, MatchesHeading, MatchList } from '../components/MatchList';
import { formatBytes } from '../datasets';
import {
  formatSeconds,
  getGallery,
  isSearchable,
  listGalleries,
  modelText,
  PHOTO_ACCEPT,
  privacyText,
  searchGallery,
  warmGallery,
} from '../galleries';
import type { Gallery, SearchResult } from '../types';
import { PrivateSearchView, StageProgress, type StageState } from '../private/PrivateSearchView';
import { NoFaceError, PrivateSearcher, type PrivateSearchResult } from '../private/privateSearch';
import { browserSupportsPrivateSearch, PORTABLE_PIPELINE, type PrivateSearchBlock, type Stage } from '../private/protocol';
import { makeSearchWorker, WASM_ASSETS } from '../private/searchWorker';
import { useDropZone } from '../useDropZone';

type Mode = 'private' | 'server';

/** The gallery's private-search block, when this browser can use it. */
function privateBlock(g: Gallery | null): PrivateSearchBlock | null {
  const block = (g as (Gallery & { private_search?: PrivateSearchBlock | null }) | null)?.private_search ?? null;
  if (!block?.he_profile || block.faces?.pipeline !== PORTABLE_PIPELINE) return null;
  return browserSupportsPrivateSearch() ? block : null;
}

const DEFAULT_TOP_K = 5;
const MAX_TOP_K = 50;

/** Object URL for a preview of the chosen photo (revoked when it changes); null where unsupported. */
function usePreview(file: File | null): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file || typeof URL.createObjectURL !== 'function') {
      setUrl(null);
      return;
    }
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return url;
}

/** Search a photo in a ready gallery under homomorphic encryption (`/search?gallery=<id>`). */
export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const wanted = Number(params.get('gallery')) || null;
  const [galleries, setGalleries] = useState<Gallery[] | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [topK, setTopK] = useState(String(DEFAULT_TOP_K));
  // The threshold typed for a gallery; other galleries show their embedder's default.
  const [thresholdEdit, setThresholdEdit] = useState<{ gallery: number; value: string } | null>(null);
  const [photo, setPhoto] = useState<File | null>(null);
  const { over, handlers: dropHandlers } = useDropZone((files) => choosePhoto(files?.[0]));
  const [searching, setSearching] = useState(false);
  const [result, setResult] = useState<SearchResult | null>(null);
  const [searchError, setSearchError] = useState<string | null>(null);
  // The mode picked for a gallery; otherwise private where the gallery and browser allow it.
  const [modeEdit, setModeEdit] = useState<{ gallery: number; mode: Mode } | null>(null);
  const [stages, setStages] = useState<Partial<Record<Stage, StageState>>>({});
  const [privateResult, setPrivateResult] = useState<PrivateSearchResult | null>(null);
  const preview = usePreview(photo);
  // One search worker for the page's life: its models stay loaded between searches.
  const searcher = useRef<PrivateSearcher | null>(null);
  useEffect(() => () => searcher.current?.close(), []);
  const warmedFor = useRef<number | null>(null);

  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const list = (await listGalleries()).results.filter(isSearchable);
        // A gallery named in the URL but not on the first page of the list.
        if (wanted && !list.some((g) => g.id === wanted)) {
          try {
            const g = await getGallery(wanted);
            if (isSearchable(g)) list.unshift(g);
            else if (live) setNotice(`Gallery “${g.name}” is ${g.status}: it cannot be searched yet.`);
          } catch (err) {
            if (live) setNotice(`Gallery #${wanted}: ${messageOf(err)}`);
          }
        }
        if (live) setGalleries(list);
      } catch (err) {
        if (live) setListError(messageOf(err));
      }
    })();
    return () => {
      live = false;
    };
    // Loaded once when the page opens; later changes of ?gallery= come from the select.
  }, []);

  const gallery = galleries?.find((g) => g.id === wanted) ?? (wanted ? null : (galleries?.[0] ?? null));
  const galleryId = gallery?.id ?? null;
  const privateSearchBlock = privateBlock(gallery);
  const mode: Mode =
    privateSearchBlock === null ? 'server' : modeEdit && modeEdit.gallery === galleryId ? modeEdit.mode : 'private';

  // Before a photo is chosen: the workers encode the gallery's shards, and in private mode
  // this page's search worker loads its models and makes the first search's keys, so that
  // the first search waits for neither.
  useEffect(() => {
    if (galleryId === null || warmedFor.current === galleryId) return;
    warmedFor.current = galleryId;
    void warmGallery(galleryId);
  }, [galleryId]);
  useEffect(() => {
    if (mode === 'private' && privateSearchBlock) {
      void (searcher.current ??= new PrivateSearcher(makeSearchWorker, WASM_ASSETS)).warm(privateSearchBlock);
    }
  }, [mode, privateSearchBlock]);

  // The gallery's own (the owner's, else calibrated) threshold, else its model's default;
  // a private search uses the one its private_search block names.
  const defaultThreshold =
    (mode === 'private' ? privateSearchBlock?.threshold : null) ??
    gallery?.threshold ??
    gallery?.embedder.default_threshold ??
    null;

  const threshold =
    thresholdEdit && thresholdEdit.gallery === galleryId
      ? thresholdEdit.value
      : defaultThreshold == null
        ? ''
        : String(defaultThreshold);

  const chooseGallery = useCallback(
    (id: string) => {
      setResult(null);
      setPrivateResult(null);
      setSearchError(null);
      setParams(id ? { gallery: id } : {}, { replace: true });
    },
    [setParams],
  );

  function choosePhoto(file: File | null | undefined) {
    setPhoto(file ?? null);
    setResult(null);
    setPrivateResult(null);
    setStages({});
    setSearchError(null);
  }

  function onPick(e: ChangeEvent<HTMLInputElement>) {
    choosePhoto(e.target.files?.[0]);
    e.target.value = ''; // picking the same photo again must fire `change` again
  }

  async function onSearch(e: FormEvent) {
    e.preventDefault();
    if (!gallery || !photo) return;
    const k = Number(topK);
    const t = threshold.trim() === '' ? null : Number(threshold);
    if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) {
      setSearchError(`Top k must be a whole number from 1 to ${MAX_TOP_K}.`);
      return;
    }
    if (t !== null && !(t >= -1 && t <= 1)) {
      setSearchError('The threshold must be between -1 and 1.');
      return;
    }
    setSearching(true);
    setSearchError(null);
    setResult(null);
    setPrivateResult(null);
    setStages({});
    try {
      if (mode === 'private' && privateSearchBlock) {
        const onProgress = (stage: Stage, done: boolean, ms?: number) =>
          setStages((prev) => ({ ...prev, [stage]: done ? { done: true, ms } : { done: false } }));
        setPrivateResult(
          await (searcher.current ??= new PrivateSearcher(makeSearchWorker, WASM_ASSETS)).search(photo, {
            galleryId: gallery.id,
            search: privateSearchBlock,
            topK: k,
            threshold: t ?? privateSearchBlock.threshold,
            onProgress,
          }),
        );
      } else {
        setResult(await searchGallery(gallery.id, photo, { topK: k, threshold: t }));
      }
    } catch (err) {
      setSearchError(err instanceof NoFaceError ? 'No face was found in the photo (it was not sent anywhere).' : messageOf(err));
    } finally {
      setSearching(false);
    }
  }

  return (
    <>
      <div className="page-header">
        <h1>Search</h1>
      </div>
      <ErrorMessage error={listError} />
      {notice && <p className="notice">{notice}</p>}
      {galleries !== null && galleries.length === 0 ? (
        <section className="card">
          <p className="muted" data-testid="no-galleries">
            No gallery is ready to search. <Link to="/galleries">Create one</Link> from a dataset or from labelled photos.
          </p>
        </section>
      ) : (
        <form className="card search-form" onSubmit={onSearch} aria-label="Search a face">
          <div className="form-row">
            <label>
              Gallery
              <select
                value={galleryId ?? ''}
                onChange={(e) => chooseGallery(e.target.value)}
                disabled={galleries === null}
              >
                {galleries === null && <option value="">Loading…</option>}
                {galleries !== null && !gallery && <option value="">Choose a gallery</option>}
                {galleries?.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name} — {g.identities.toLocaleString('en-US')} identities
                    {g.status === 'enrolling' ? ' (enrolling more)' : ''}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Top k
              <input
                type="number"
                min={1}
                max={MAX_TOP_K}
                step={1}
                value={topK}
                onChange={(e) => setTopK(e.target.value)}
                className="input-narrow"
              />
            </label>
            <label>
              Threshold
              <input
                type="number"
                min={-1}
                max={1}
                step="any"
                value={threshold}
                placeholder="server default"
                onChange={(e) => galleryId && setThresholdEdit({ gallery: galleryId, value: e.target.value })}
                className="input-narrow"
              />
            </label>
          </div>
          {privateSearchBlock && (
            <fieldset className="form-row search-mode" aria-label="Search mode">
              <label>
                <input
                  type="radio"
                  name="search-mode"
                  checked={mode === 'private'}
                  onChange={() => galleryId && setModeEdit({ gallery: galleryId, mode: 'private' })}
                />{' '}
                Private search (your photo never leaves this browser)
              </label>
              <label>
                <input
                  type="radio"
                  name="search-mode"
                  checked={mode === 'server'}
                  onChange={() => galleryId && setModeEdit({ gallery: galleryId, mode: 'server' })}
                />{' '}
                Server-side search (the server sees your photo)
              </label>
            </fieldset>
          )}
          {gallery && !privateSearchBlock && (
            <p className="muted small" data-testid="server-mode">
              Server-side search (the server sees your photo)
            </p>
          )}
          {gallery && (
            <p className="muted small">
              Embedder: <EmbedderName embedder={gallery.embedder} /> — model {modelText(gallery.embedder)},{' '}
              {privacyText(gallery.embedder)}
              {defaultThreshold != null && <> — gallery threshold {defaultThreshold}</>}
            </p>
          )}

          <div
            className={`dropzone photo-drop${over ? ' dropzone-over' : ''}`}
            data-testid="photo-dropzone"
            {...dropHandlers}
          >
            {preview ? (
              <img className="photo-preview" src={preview} alt="Photo to search" />
            ) : (
              <p>Drop a photo of a face here (JPEG, PNG, WebP or BMP).</p>
            )}
            {photo && (
              <p className="small" data-testid="photo-name">
                <code>{photo.name}</code> ({formatBytes(photo.size)})
              </p>
            )}
            <label className="btn btn-ghost file-pick">
              {photo ? 'Choose another photo' : 'Choose a photo'}
              <input
                type="file"
                accept={PHOTO_ACCEPT}
                className="visually-hidden"
                aria-label="Photo"
                onChange={onPick}
              />
            </label>
          </div>
          <div data-testid="search-error">
            <ErrorMessage error={searchError} />
          </div>

          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={!gallery || !photo || searching}>
              {searching ? 'Searching…' : 'Search'}
            </button>
            {searching && mode === 'server' && (
              <span className="muted small">Encrypting, scoring under encryption, decrypting…</span>
            )}
          </div>
          {mode === 'private' && (searching || Object.keys(stages).length > 0) && <StageProgress stages={stages} />}
        </form>
      )}

      {result && <SearchResultView result={result} />}
      {privateResult && gallery && <PrivateSearchView result={privateResult} gallery={gallery} />}
    </>
  );
}

function SearchResultView({ result }: { result: SearchResult }) {
  const { matches, matched, server } = result;
  return (
    <section className="card" aria-label="Search result" data-testid="search-result">
      <div className="result-layout">
        <figure className="aligned-crop">
          <img src={result.aligned_crop} alt="Aligned face crop" width={112} height={112} />
          <figcaption className="muted small">
            {result.aligned ? 'Aligned 112×112 crop that was searched' : 'Crop that was searched (not aligned)'}
          </figcaption>
          <FacesFound count={result.faces_found} />
        </figure>
        <div className="result-matches">
          <MatchesHeading galleryName={result.gallery.name} matched={matched} topK={result.top_k} threshold={result.threshold} />
          <p className="muted small" data-testid="result-model">
            Model: {modelText(result.embedder)} — <span data-testid="result-privacy">{privacyText(result.embedder)}</span>
          </p>
          {matched && matches.length > 0 ? (
            <MatchList matches={matches} />
          ) : (
            <div className="no-match" data-testid="no-match">
              <strong>No match in {result.gallery.name}</strong>
              <p className="muted small">
                No identity scored at or above the threshold {result.threshold}. The person may not be enrolled, or the
                threshold is too strict.
              </p>
            </div>
          )}
        </div>
      </div>

      <section className="server-view" aria-label="What the server saw">
        <h3>What the server saw</h3>
        <p className="muted small">
          The photo was embedded and encrypted with a fresh key pair made for this search and discarded with it. The search
          workers received only the public context and the encrypted query, and sent back encrypted scores; they never saw
          the face template, the scores or the result.
        </p>
        {result.embedder.model && (
          <p className="muted small" data-testid="embedding-worker">
            With a trained model the face was embedded by a worker (which saw the aligned crop and its template, as this
            server does); the search workers that scored it still saw neither.
          </p>
        )}
        <div className="server-grid">
          <dl className="details">
            <dt>Encrypted query</dt>
            <dd data-testid="upload-bytes">{formatBytes(server.upload_bytes)}</dd>
            <dt>Public context</dt>
            <dd data-testid="context-bytes">{formatBytes(server.context_bytes)}</dd>
            <dt>Encrypted scores</dt>
            <dd data-testid="response-bytes">{formatBytes(server.response_bytes)}</dd>
            <dt>Shards</dt>
            <dd data-testid="shards">{server.shards}</dd>
          </dl>
          <dl className="details">
            <dt>Embedding</dt>
            <dd>{formatSeconds(server.client_embed_seconds)}</dd>
            <dt>Key + encryption</dt>
            <dd>{formatSeconds(server.client_encrypt_seconds)}</dd>
            <dt>Worker scoring</dt>
            <dd>
              {formatSeconds(server.server_seconds)}
              {server.server_cached === false && server.server_prepare_seconds != null && (
                <span className="muted small"> (incl. {formatSeconds(server.server_prepare_seconds)} encoding the gallery)</span>
              )}
            </dd>
            <dt>Waiting</dt>
            <dd>{formatSeconds(server.wait_seconds)}</dd>
            <dt>Decryption</dt>
            <dd>{formatSeconds(server.client_decrypt_seconds)}</dd>
            <dt>Total</dt>
            <dd data-testid="total-seconds">{formatSeconds(server.total_seconds)}</dd>
          </dl>
        </div>
        {result.embedder.private === false && (
          <p className="muted small">
            Embedder <code>{result.embedder.name}</code> is a non-private reference model (no training privacy guarantee).
          </p>
        )}
      </section>
    </section>
  );
}
