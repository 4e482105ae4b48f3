// The Search page's private mode, with the worker faked (search.worker.ts needs Chromium's
// wasm; the e2e test runs the real one): what the page sends, what it shows.
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FromWorker, PrivateSearchBlock, ToWorker } from '../private/protocol';
import { forgetLabels, type WorkerPort } from '../private/privateSearch';
import { pack } from '../private/wire';
import { makeGallery } from '../test/fixtures';
import { SearchPage } from './SearchPage';

const worker = vi.hoisted(() => ({ received: [] as unknown[], made: 0, ended: 0, script: null as null | ((msg: unknown, port: unknown) => void) }));

vi.mock('../private/searchWorker', () => ({
  WASM_ASSETS: { ort: '/static/assets/ort.wasm', seal: '/static/assets/seal.wasm' },
  makeSearchWorker: (): WorkerPort => {
    worker.made += 1;
    const port: WorkerPort = {
      onmessage: null,
      onerror: null,
      postMessage: (msg) => {
        worker.received.push(msg);
        setTimeout(() => worker.script!(msg, port), 0);
      },
      terminate: () => {
        worker.ended += 1;
      },
    };
    return port;
  },
}));

const BLOCK: PrivateSearchBlock = {
  faces: {
    pipeline: 'portable-1',
    detector: { url: '/api/face-models/tiny_face_detector.onnx', sha256: 'a'.repeat(64), bytes: 1 },
    landmarks: { url: '/api/face-models/face_landmark_68.onnx', sha256: 'b'.repeat(64), bytes: 1 },
  },
  model: { id: 9, onnx: { url: '/api/models/9/onnx/', sha256: 'c'.repeat(64), bytes: 1 } },
  score_rule: 'cosine',
  threshold: 0.5,
  he_profile: { params: { poly_degree: 8192, coeff_bits: [60, 40, 60], query_scale_bits: 40, gallery_scale_bits: 40 }, dim: 4, giant_step: 1 },
};

const CONTEXT = new Uint8Array([1, 2, 3, 4, 5]);
const QUERY = new Uint8Array([9, 9, 9]);

/** The fake worker: progress for its stages, then its answer. */
function answerLike(opts: { noFace?: boolean; fail?: boolean } = {}) {
  worker.script = (raw, p) => {
    const msg = raw as ToWorker;
    const port = p as WorkerPort;
    const send = (m: FromWorker) => port.onmessage?.({ data: m } as MessageEvent<FromWorker>);
    if (msg.type === 'warm') {
      send({ type: 'warmed', cached: false });
    } else if (msg.type === 'prepare') {
      for (const stage of ['models', 'detect', 'embed', 'keys'] as const) {
        send({ type: 'progress', stage, done: false });
        send({ type: 'progress', stage, done: true, ms: 12 });
      }
      if (opts.noFace) return send({ type: 'no-face' });
      if (opts.fail) return send({ type: 'error', message: 'the model gives 3 numbers, the gallery holds 4' });
      send({ type: 'prepared', context: CONTEXT.slice(), crop: new Uint8Array(112 * 112 * 3), facesFound: 1, queryNorm2: 1, cached: false });
    } else if (msg.type === 'encrypt') {
      send({ type: 'progress', stage: 'encrypt', done: true, ms: 3 });
      send({ type: 'encrypted', query: QUERY.slice() });
    } else if (msg.type === 'decrypt') {
      send({ type: 'progress', stage: 'decrypt', done: true, ms: 4 });
      send({ type: 'decrypted', scores: Float64Array.from([0.2, 0.81, 0.6, 0.3]) });
    }
  };
}

interface Call {
  method: string;
  url: string;
  body: unknown;
}

async function stubServer(galleries: unknown[], opts: { labelsVersion?: number } = {}): Promise<Call[]> {
  const calls: Call[] = [];
  const scoreSet = await pack('score_set', { gallery: 3, version: 3, entries: 4, key_id: 'kid-1', shards: [[0, 1]] }, [new Uint8Array(10)]);
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const call = { method: init.method ?? 'GET', url: String(input), body: init.body };
      calls.push(call);
      const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
      if (call.url === '/api/galleries/') return json({ count: galleries.length, next: null, previous: null, results: galleries });
      if (call.method === 'POST' && call.url === '/api/galleries/3/warm/') return json({ queued: true, searchable: true }, 202);
      if (call.method === 'POST' && call.url === '/api/he/contexts/') return json({ key_id: 'kid-1', format: 'seal-4.1' }, 201);
      if (call.method === 'POST' && call.url === '/api/galleries/3/encrypted-search/?key_id=kid-1') {
        return new Response(scoreSet as BodyInit, { status: 200, headers: { 'X-Server-Seconds': '0.25' } });
      }
      if (call.url === '/api/galleries/3/labels/?fields=ranking') {
        return json({ version: opts.labelsVersion ?? 3, entries: 4, labels: ['ann', 'bob', 'cy', 'bob'], score: 'cosine' });
      }
      return json({ detail: 'Not found.' }, 404);
    }),
  );
  return calls;
}

function renderSearch() {
  return render(
    <MemoryRouter initialEntries={['/search?gallery=3']}>
      <Routes>
        <Route path="/search" element={<SearchPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

const privateGallery = () => ({ ...makeGallery({ id: 3, name: 'friends' }), private_search: BLOCK });

async function choosePhotoAndSearch() {
  fireEvent.change(screen.getByLabelText('Photo'), { target: { files: [new File(['jpeg bytes'], 'me.jpg', { type: 'image/jpeg' })] } });
  await screen.findByTestId('photo-name');
  fireEvent.click(screen.getByRole('button', { name: 'Search' }));
}

describe('SearchPage, private mode', () => {
  beforeEach(() => {
    document.cookie = 'csrftoken=tok; path=/';
    worker.received = [];
    worker.made = 0;
    worker.ended = 0;
    vi.stubGlobal('Worker', function Worker() {});
    vi.stubGlobal('OffscreenCanvas', function OffscreenCanvas() {});
    answerLike();
    forgetLabels();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('is the default; the photo goes to the worker, the server gets only the context and the query', async () => {
    const calls = await stubServer([privateGallery()]);
    renderSearch();
    const privateMode = await screen.findByLabelText('Private search (your photo never leaves this browser)');
    expect(privateMode).toBeChecked();
    expect(screen.getByLabelText('Server-side search (the server sees your photo)')).not.toBeChecked();
    await choosePhotoAndSearch();
    const result = await screen.findByTestId('private-result');

    // Opening the gallery warmed the worker (models, node-seal, the first keys) before the photo.
    expect(worker.received[0]).toEqual({ type: 'warm', search: BLOCK, assets: { ort: '/static/assets/ort.wasm', seal: '/static/assets/seal.wasm' } });
    const prepare = worker.received[1] as Extract<ToWorker, { type: 'prepare' }>;
    expect(prepare.type).toBe('prepare');
    expect((prepare.photo as File).name).toBe('me.jpg');
    expect(prepare.search).toEqual(BLOCK);
    expect(prepare.assets.seal).toBe('/static/assets/seal.wasm');
    expect(worker.received[2]).toEqual({ type: 'encrypt', keyId: 'kid-1' });
    expect((worker.received[3] as { entries: number }).entries).toBe(4);

    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET /api/galleries/',
      'POST /api/galleries/3/warm/',
      'POST /api/he/contexts/',
      'POST /api/galleries/3/encrypted-search/?key_id=kid-1',
      'GET /api/galleries/3/labels/?fields=ranking',
    ]);
    expect(calls[1].body).toBeUndefined(); // the warm-up carries nothing
    expect(Array.from(calls[2].body as Uint8Array)).toEqual(Array.from(CONTEXT));
    expect(Array.from(calls[3].body as Uint8Array)).toEqual(Array.from(QUERY));
    expect(calls.some((c) => c.body instanceof Blob || c.body instanceof FormData)).toBe(false);

    // Ranked here: bob's best template, then cy; ann (0.2) is under the gallery's threshold 0.5.
    const best = within(result).getByTestId('match-0');
    expect(within(best).getByTestId('match-identity')).toHaveTextContent('bob');
    expect(within(best).getByTestId('match-score')).toHaveTextContent('0.8100');
    expect(within(best).getByAltText('identity bob')).toHaveAttribute('src', '/api/galleries/3/identities/bob/thumbnail/?v=3');
    expect(within(result).getByTestId('match-1')).toHaveTextContent('cy');
    expect(within(result).queryByTestId('match-2')).toBeNull();
    expect(within(result).getByText(/top 5, threshold 0.5/)).toBeInTheDocument();
    expect(within(result).getByTestId('context-bytes')).toHaveTextContent('5 B');
    expect(within(result).getByTestId('upload-bytes')).toHaveTextContent('3 B');
    const timings = within(result).getByTestId('stage-timings');
    expect(timings.querySelector('[data-stage="detect"]')).toHaveTextContent('12 ms');
    expect(within(timings).getByText(/workers 250 ms/)).toBeInTheDocument();
    const progress = screen.getByTestId('private-progress');
    expect(progress.querySelectorAll('[data-state="done"]')).toHaveLength(9);

    // Searched again: the labels of this gallery version are remembered, not fetched again.
    answerLike();
    fireEvent.click(screen.getByRole('button', { name: 'Search' }));
    await waitFor(() => expect(calls.filter((c) => c.url.includes('encrypted-search'))).toHaveLength(2));
    await waitFor(() => expect(worker.received.filter((m) => (m as { type: string }).type === 'decrypt')).toHaveLength(2));
    await waitFor(() =>
      expect(screen.getByTestId('private-progress').querySelectorAll('[data-state="done"]')).toHaveLength(9),
    );
    expect(calls.filter((c) => c.url === '/api/galleries/3/labels/?fields=ranking')).toHaveLength(1);
  });

  it('uses the typed threshold and top k', async () => {
    await stubServer([privateGallery()]);
    renderSearch();
    await screen.findByLabelText('Private search (your photo never leaves this browser)');
    fireEvent.change(screen.getByLabelText('Threshold'), { target: { value: '0.1' } });
    fireEvent.change(screen.getByLabelText('Top k'), { target: { value: '2' } });
    await choosePhotoAndSearch();
    const result = await screen.findByTestId('private-result');
    expect(within(result).getByTestId('match-1')).toHaveTextContent('cy');
    expect(within(result).queryByTestId('match-2')).toBeNull();
    expect(within(result).getByText(/top 2, threshold 0.1/)).toBeInTheDocument();
  });

  it('keeps one worker for the page between searches, and ends it after a failure and on leaving', async () => {
    const calls = await stubServer([privateGallery()]);
    const { unmount } = renderSearch();
    await screen.findByLabelText('Private search (your photo never leaves this browser)');
    await choosePhotoAndSearch();
    await screen.findByTestId('private-result');
    await choosePhotoAndSearch();
    await screen.findByTestId('private-result');
    expect(worker.received.filter((m) => (m as ToWorker).type === 'prepare')).toHaveLength(2);
    expect([worker.made, worker.ended]).toEqual([1, 0]);
    expect(calls.filter((c) => c.url === '/api/he/contexts/')).toHaveLength(2); // fresh keys each time
    answerLike({ fail: true });
    await choosePhotoAndSearch();
    expect(await screen.findByText('the model gives 3 numbers, the gallery holds 4')).toBeInTheDocument();
    expect([worker.made, worker.ended]).toEqual([1, 1]);
    answerLike();
    await choosePhotoAndSearch();
    await screen.findByTestId('private-result');
    expect(worker.made).toBe(2);
    unmount();
    expect(worker.ended).toBe(2);
  });

  it('says when there is no face, and nothing is uploaded', async () => {
    answerLike({ noFace: true });
    const calls = await stubServer([privateGallery()]);
    renderSearch();
    await screen.findByLabelText('Private search (your photo never leaves this browser)');
    await choosePhotoAndSearch();
    expect(await screen.findByText(/No face was found in the photo/)).toBeInTheDocument();
    // Only the gallery's warm-up, sent when the page opened it, without a body.
    expect(calls.filter((c) => c.method === 'POST').map((c) => [c.url, c.body])).toEqual([['/api/galleries/3/warm/', undefined]]);
  });

  it('refuses labels of another gallery version', async () => {
    await stubServer([privateGallery()], { labelsVersion: 4 });
    renderSearch();
    await screen.findByLabelText('Private search (your photo never leaves this browser)');
    await choosePhotoAndSearch();
    expect(await screen.findByText('The gallery changed during the search; run it again.')).toBeInTheDocument();
  });

  it('the server-side mode stays one click away and posts the photo', async () => {
    const calls = await stubServer([privateGallery()]);
    renderSearch();
    fireEvent.click(await screen.findByLabelText('Server-side search (the server sees your photo)'));
    await choosePhotoAndSearch();
    await waitFor(() => expect(calls.some((c) => c.url === '/api/galleries/3/search/')).toBe(true));
    // The worker was warmed when the page opened in private mode; it never got the photo.
    expect(worker.received.map((m) => (m as ToWorker).type)).toEqual(['warm']);
  });

  it('offers only the server-side mode without private_search or without Workers', async () => {
    await stubServer([makeGallery({ id: 3 })]);
    const { unmount } = renderSearch();
    expect(await screen.findByTestId('server-mode')).toHaveTextContent('Server-side search (the server sees your photo)');
    expect(screen.queryByLabelText('Private search (your photo never leaves this browser)')).toBeNull();
    unmount();
    vi.stubGlobal('Worker', undefined);
    await stubServer([privateGallery()]);
    renderSearch();
    expect(await screen.findByTestId('server-mode')).toBeInTheDocument();
  });
});
