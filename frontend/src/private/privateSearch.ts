// The page's half of a private search: it drives search.worker.ts (which holds the photo, the
// template and the secret key) and makes the API calls with the page's session: the public
// context, the encrypted search, the labels. What goes to the server is only the public
// context and the query ciphertext (both from the worker), counted in `bytes.sent`.
import { ensureCsrfToken, getCookie } from '../api';
import {
  rankAnswer,
  scoreSetHeader,
  type FromWorker,
  type GalleryLabels,
  type PrivateSearchBlock,
  type RankedMatch,
  type Stage,
  type ToWorker,
  type WasmAssets,
} from './protocol';

/** What the page needs of a Worker (a fake in tests). */
export interface WorkerPort {
  postMessage(msg: ToWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<FromWorker>) => void) | null;
  onerror: ((e: ErrorEvent) => void) | null;
  terminate(): void;
}

export interface PrivateSearchOptions {
  galleryId: number;
  search: PrivateSearchBlock;
  topK: number;
  threshold: number | null;
  onProgress?: (stage: Stage, done: boolean, ms?: number) => void;
}

export interface PrivateSearchResult {
  matches: RankedMatch[];
  threshold: number | null;
  topK: number;
  facesFound: number;
  crop: Uint8Array | null; // 112x112 RGB, for the page only
  timings: Partial<Record<Stage, number>>; // ms
  serverSeconds: number | null; // X-Server-Seconds: the workers' scoring
  bytes: { context: number; query: number; scores: number; labels: number; sent: number; received: number };
  modelsCached: boolean;
  version: number;
  entries: number;
}

export class NoFaceError extends Error {
  override name = 'NoFaceError';
}

/** A request/answer channel to the worker: each call waits for the next non-progress message. */
class Channel {
  private waiting: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;

  constructor(private readonly port: WorkerPort, onProgress?: PrivateSearchOptions['onProgress']) {
    port.onmessage = (e) => {
      const msg = e.data;
      if (msg.type === 'progress') return onProgress?.(msg.stage, msg.done, msg.ms);
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (msg.type === 'error') w.reject(new Error(msg.message));
      else w.resolve(msg);
    };
    port.onerror = (e) => {
      const w = this.waiting;
      this.waiting = null;
      w?.reject(new Error(e.message || 'the search worker failed to start'));
    };
  }

  ask(msg: ToWorker, transfer: Transferable[] = []): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.port.postMessage(msg, transfer);
    });
  }
}

async function post(url: string, body: Uint8Array): Promise<Response> {
  const token = getCookie('csrftoken') ?? (await ensureCsrfToken());
  return fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/octet-stream', ...(token ? { 'X-CSRFToken': token } : {}) },
    body: body as BodyInit,
  });
}

async function failure(res: Response, what: string): Promise<Error> {
  let detail = '';
  try {
    const body = (await res.json()) as { detail?: string };
    detail = body.detail ?? '';
  } catch {
    /* not JSON */
  }
  return new Error(`${what} refused (${res.status})${detail ? `: ${detail}` : ''}`);
}

function expect<T extends FromWorker['type']>(msg: FromWorker, type: T): Extract<FromWorker, { type: T }> {
  if (msg.type === 'no-face') throw new NoFaceError('No face was found in the photo.');
  if (msg.type !== type) throw new Error(`the search worker answered ${msg.type}, expected ${type}`);
  return msg as Extract<FromWorker, { type: T }>;
}

/** The page's search worker, kept between searches (its models stay loaded; every search
 *  makes fresh keys); ended after a failed search and by `close`. */
export class PrivateSearcher {
  private port: WorkerPort | null = null;
  // A warm-up under way: the worker answers one request at a time, a search waits for it.
  private warming: Promise<void> = Promise.resolve();

  constructor(
    private readonly makeWorker: () => WorkerPort,
    private readonly assets: WasmAssets,
  ) {}

  /** Before a photo is chosen: start the worker, load the models and node-seal (compiled
   *  once), and make the first search's keys. Best effort: a failure is left to the search,
   *  which loads anew. */
  warm(search: PrivateSearchBlock): Promise<void> {
    const port = (this.port ??= this.makeWorker());
    this.warming = this.warming
      .then(() => new Channel(port).ask({ type: 'warm', search, assets: this.assets }))
      .then(
        () => undefined,
        () => undefined,
      );
    return this.warming;
  }

  async search(photo: Blob, opts: PrivateSearchOptions): Promise<PrivateSearchResult> {
    await this.warming;
    const port = (this.port ??= this.makeWorker());
    try {
      return await privateSearch(photo, this.assets, port, opts);
    } catch (err) {
      if (!(err instanceof NoFaceError)) this.close(); // its state is unknown: the next search starts a fresh one
      throw err;
    }
  }

  close(): void {
    this.port?.terminate();
    this.port = null;
  }
}

/** Run one private search of `photo` in the worker behind `port`. */
/** Each gallery's labels at the version last seen (module memory, the page's lifetime). */
const labelsCache = new Map<number, GalleryLabels>();

/** For tests: start with no labels remembered. */
export function forgetLabels(): void {
  labelsCache.clear();
}

export async function privateSearch(photo: Blob, assets: WasmAssets, port: WorkerPort, opts: PrivateSearchOptions): Promise<PrivateSearchResult> {
  const timings: Partial<Record<Stage, number>> = {};
  const progress: PrivateSearchOptions['onProgress'] = (stage, done, ms) => {
    if (done && ms !== undefined) timings[stage] = ms;
    opts.onProgress?.(stage, done, ms);
  };
  const lap = async <T>(stage: Stage, work: () => Promise<T>): Promise<T> => {
    progress(stage, false);
    const t = performance.now();
    const out = await work();
    progress(stage, true, Math.round((performance.now() - t) * 10) / 10);
    return out;
  };
  const channel = new Channel(port, progress);
  const prepared = expect(await channel.ask({ type: 'prepare', photo, search: opts.search, assets }), 'prepared');
  const keyId = await lap('context_upload', async () => {
    const res = await post('/api/he/contexts/', prepared.context);
    if (res.status !== 201) throw await failure(res, 'the public context was');
    return ((await res.json()) as { key_id: string }).key_id;
  });
  const { query } = expect(await channel.ask({ type: 'encrypt', keyId }), 'encrypted');
  const querySize = query.length;
  const { scoreSet, serverSeconds } = await lap('search', async () => {
    const res = await post(`/api/galleries/${opts.galleryId}/encrypted-search/?key_id=${encodeURIComponent(keyId)}`, query);
    if (res.status !== 200) throw await failure(res, 'the encrypted search was');
    const seconds = res.headers.get('X-Server-Seconds');
    return { scoreSet: new Uint8Array(await res.arrayBuffer()), serverSeconds: seconds ? Number(seconds) : null };
  });
  const header = scoreSetHeader(scoreSet);
  const scoresSize = scoreSet.length;
  const { scores } = expect(await channel.ask({ type: 'decrypt', scoreSet, entries: header.entries }, [scoreSet.buffer as ArrayBuffer]), 'decrypted');
  const { matches, labelsSize } = await lap('rank', async () => {
    // The labels of a gallery version do not change: a search again fetches none (at 100k
    // templates they are 3 MB and most of this stage).
    const known = labelsCache.get(opts.galleryId);
    let labels: GalleryLabels;
    let size = 0;
    if (known && known.version === header.version && known.entries === header.entries) {
      labels = known;
    } else {
      const res = await fetch(`/api/galleries/${opts.galleryId}/labels/?fields=ranking`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!res.ok) throw await failure(res, 'the labels request was');
      const text = await res.text();
      labels = JSON.parse(text) as GalleryLabels;
      size = new TextEncoder().encode(text).length;
      if (labels.version === header.version && labels.entries === header.entries) labelsCache.set(opts.galleryId, labels);
    }
    const ranked = rankAnswer(scores, header, labels, {
      rule: opts.search.score_rule,
      queryNorm2: prepared.queryNorm2,
      topK: opts.topK,
      threshold: opts.threshold,
    });
    return { matches: ranked, labelsSize: size };
  });
  const sent = prepared.context.length + querySize;
  return {
    matches,
    threshold: opts.threshold,
    topK: opts.topK,
    facesFound: prepared.facesFound,
    crop: prepared.crop,
    timings,
    serverSeconds,
    bytes: { context: prepared.context.length, query: querySize, scores: scoresSize, labels: labelsSize, sent, received: scoresSize + labelsSize },
    modelsCached: prepared.cached,
    version: header.version,
    entries: header.entries,
  };
}
