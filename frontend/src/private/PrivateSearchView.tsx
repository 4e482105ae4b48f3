// What a private search shows: per-stage progress while it runs, then the matches (ranked in
// this browser), the aligned crop (drawn here, never uploaded), the timings and the bytes.
import { Fragment, useEffect, useRef } from 'react';
import { FacesFound, MatchesHeading, MatchList } from '../components/MatchList';
import { formatBytes } from '../datasets';
import type { Gallery } from '../types';
import type { PrivateSearchResult } from './privateSearch';
import { STAGE_LABELS, STAGES, type Stage } from './protocol';

export interface StageState {
  done: boolean;
  ms?: number;
}

const formatMs = (ms: number | undefined): string => (ms === undefined ? '' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

export function StageProgress({ stages }: { stages: Partial<Record<Stage, StageState>> }) {
  return (
    <ol className="stage-list small" aria-label="Private search progress" data-testid="private-progress">
      {STAGES.map((stage) => {
        const s = stages[stage];
        const state = !s ? 'pending' : s.done ? 'done' : 'running';
        return (
          <li key={stage} data-stage={stage} data-state={state} className={state === 'pending' ? 'muted' : undefined}>
            {state === 'done' ? '✓' : state === 'running' ? '…' : '·'} {STAGE_LABELS[stage]}
            {s?.done && <span className="muted"> {formatMs(s.ms)}</span>}
          </li>
        );
      })}
    </ol>
  );
}

/** The 112x112 RGB crop on a canvas (no data leaves the page). */
function CropCanvas({ crop }: { crop: Uint8Array }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext?.('2d');
    if (!ctx || typeof ImageData === 'undefined') return; // jsdom
    const rgba = new Uint8ClampedArray(112 * 112 * 4);
    for (let i = 0, j = 0; j < crop.length; i += 4, j += 3) {
      rgba[i] = crop[j];
      rgba[i + 1] = crop[j + 1];
      rgba[i + 2] = crop[j + 2];
      rgba[i + 3] = 255;
    }
    ctx.putImageData(new ImageData(rgba, 112, 112), 0, 0);
  }, [crop]);
  return <canvas ref={ref} width={112} height={112} aria-label="Aligned face crop" />;
}

const thumbnailUrl = (gallery: number, label: string, version: number) =>
  `/api/galleries/${gallery}/identities/${encodeURIComponent(label)}/thumbnail/?v=${version}`;

export function PrivateSearchView({ result, gallery }: { result: PrivateSearchResult; gallery: Gallery }) {
  const { matches, bytes, timings } = result;
  const total = Object.values(timings).reduce((a, b) => a + (b ?? 0), 0);
  return (
    <section className="card" aria-label="Search result" data-testid="private-result">
      <div className="result-layout">
        <figure className="aligned-crop">
          {result.crop && <CropCanvas crop={result.crop} />}
          <figcaption className="muted small">Aligned 112×112 crop, made and embedded in this browser</figcaption>
          <FacesFound count={result.facesFound} />
        </figure>
        <div className="result-matches">
          <MatchesHeading galleryName={gallery.name} matched={matches.length > 0} topK={result.topK}
            threshold={result.threshold ?? 'none'} />
          {matches.length > 0 ? (
            <MatchList matches={matches.map((m) => ({ ...m, thumbnail: thumbnailUrl(gallery.id, m.identity, result.version) }))} />
          ) : (
            <div className="no-match" data-testid="no-match">
              <strong>No match in {gallery.name}</strong>
              <p className="muted small">No identity scored at or above the threshold {result.threshold}.</p>
            </div>
          )}
        </div>
      </div>
      <section className="server-view" aria-label="What the server saw">
        <h3>What the server saw</h3>
        <p className="muted small">
          Your photo, the face crop, its template and the secret key stayed in this browser. The server received only the
          public keys and the encrypted template, and sent back encrypted scores; this page decrypted and ranked them.
        </p>
        <div className="server-grid">
          <dl className="details">
            <dt>Sent: public keys</dt>
            <dd data-testid="context-bytes" data-bytes={bytes.context}>{formatBytes(bytes.context)}</dd>
            <dt>Sent: encrypted query</dt>
            <dd data-testid="upload-bytes" data-bytes={bytes.query}>{formatBytes(bytes.query)}</dd>
            <dt>Received: encrypted scores</dt>
            <dd data-testid="response-bytes" data-bytes={bytes.scores}>{formatBytes(bytes.scores)}</dd>
            <dt>Received: labels</dt>
            <dd data-testid="labels-bytes" data-bytes={bytes.labels}>
              {formatBytes(bytes.labels)}
            </dd>
            <dt>Models</dt>
            <dd data-testid="models-cached" data-cached={String(result.modelsCached)}>{result.modelsCached ? 'from this browser’s cache' : 'downloaded and checked'}</dd>
          </dl>
          <dl className="details" data-testid="stage-timings">
            {STAGES.filter((s) => timings[s] !== undefined).map((s) => (
              <Fragment key={s}>
                <dt>{STAGE_LABELS[s]}</dt>
                <dd data-stage={s} data-ms={timings[s]}>
                  {formatMs(timings[s])}
                  {s === 'search' && result.serverSeconds != null && (
                    <span className="muted small" data-testid="server-seconds" data-ms={result.serverSeconds * 1000}>
                      {' '}
                      (workers {formatMs(result.serverSeconds * 1000)})
                    </span>
                  )}
                </dd>
              </Fragment>
            ))}
            <dt>Total</dt>
            <dd data-testid="total-seconds" data-ms={total}>{formatMs(total)}</dd>
          </dl>
        </div>
      </section>
    </section>
  );
}
