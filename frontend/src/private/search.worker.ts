// A private search's client half, off the page's thread: decode the photo, find and align the
// face (faces.ts), embed it (embed.ts), make CKKS keys and the public context, encrypt the
// query and decrypt the scores (he.ts). The photo, the crop's template and the secret key
// stay in this worker; the page gets only what it uploads (public context, query ciphertext),
// the crop to show, and the decrypted scores. Protocol: protocol.ts.
import type * as Ort from 'onnxruntime-web/wasm';
import { BrowserEmbedder, modelBytes } from './embed';
import { BrowserFaces, decodePhoto } from './faces';
import { BrowserHEClient, loadSeal } from './he';
import type { SearchProfile } from './layout';
import { PORTABLE_PIPELINE, type FromWorker, type PrivateSearchBlock, type Stage, type ToWorker, type WasmAssets } from './protocol';

// The DOM lib is the project's; the worker's scope is typed by what is used of it.
const scope = self as unknown as {
  postMessage(msg: FromWorker, transfer: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  close(): void;
  caches?: CacheStorage;
};

let client: BrowserHEClient | null = null;
let query: Float32Array | null = null;
// The models' sessions and node-seal, kept for the next search of the page (a new gallery
// model, or other wasm URLs, loads anew): compiling 14 MB of wasm is most of a warm search.
interface Loaded {
  key: string;
  fromCache: boolean; // the model files came from Cache Storage (not downloaded) when loaded
  faces: BrowserFaces;
  embedder: BrowserEmbedder;
  seal: Awaited<ReturnType<typeof loadSeal>>;
}
let loaded: Loaded | null = null;

async function unload(): Promise<void> {
  const old = loaded;
  loaded = null;
  if (old) await Promise.all([old.faces.dispose(), old.embedder.dispose()]);
}

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

async function timed<T>(stage: Stage, work: () => Promise<T>): Promise<T> {
  post({ type: 'progress', stage, done: false });
  const t = performance.now();
  const out = await work();
  post({ type: 'progress', stage, done: true, ms: Math.round((performance.now() - t) * 10) / 10 });
  return out;
}

/** The models' sessions and node-seal for this gallery block (loaded once, then kept). */
async function ensureLoaded(search: PrivateSearchBlock, assets: WasmAssets): Promise<Loaded & { cached: boolean }> {
  if (search.faces.pipeline !== PORTABLE_PIPELINE) throw new Error(`face pipeline ${search.faces.pipeline} is not supported here`);
  const source = { fetch: (url: string) => fetch(url, { credentials: 'same-origin' }), caches: scope.caches ?? null };
  const key = [search.faces.detector.sha256, search.faces.landmarks.sha256, search.model.onnx.sha256, assets.ort, assets.seal].join(' ');
  if (loaded?.key === key) return { ...loaded, cached: loaded.fromCache };
  await unload();
  const ort: typeof Ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.wasmPaths = { wasm: assets.ort };
  ort.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page
  const [det, lm, model] = await Promise.all([
    modelBytes(search.faces.detector, source),
    modelBytes(search.faces.landmarks, source),
    modelBytes(search.model.onnx, source),
  ]);
  const [faces, embedder, seal] = await Promise.all([
    BrowserFaces.load(det.bytes, lm.bytes, { ort }),
    BrowserEmbedder.load(model.bytes, { ort }),
    loadSeal(assets.seal),
  ]);
  loaded = { key, fromCache: det.fromCache && lm.fromCache && model.fromCache, faces, embedder, seal };
  return { ...loaded, cached: loaded.fromCache };
}

// The next search's key pair, made ahead (when the page opens a gallery, and after each
// search) so that a search does not wait for it; used by one search only.
let spare: { profile: string; client: BrowserHEClient; context: Uint8Array } | null = null;

async function makeSpare(seal: Loaded['seal'], profile: SearchProfile): Promise<void> {
  spare?.client.dispose();
  spare = null;
  const next = new BrowserHEClient(seal, profile);
  spare = { profile: JSON.stringify(profile), client: next, context: await next.publicContext() };
}

/** A fresh key pair for `profile`: the spare one if it was made for it, else made now. */
async function takeKeys(seal: Loaded['seal'], profile: SearchProfile): Promise<{ client: BrowserHEClient; context: Uint8Array }> {
  const ready = spare;
  spare = null;
  if (ready && ready.profile === JSON.stringify(profile)) return ready;
  ready?.client.dispose();
  const made = new BrowserHEClient(seal, profile);
  return { client: made, context: await made.publicContext() };
}

async function warm(msg: Extract<ToWorker, { type: 'warm' }>): Promise<void> {
  const { seal, cached } = await ensureLoaded(msg.search, msg.assets);
  if (!spare || spare.profile !== JSON.stringify(msg.search.he_profile)) await makeSpare(seal, msg.search.he_profile);
  post({ type: 'warmed', cached });
}

async function prepare(msg: Extract<ToWorker, { type: 'prepare' }>): Promise<void> {
  const { search, assets, photo } = msg;
  const { faces, embedder, seal, cached } = await timed('models', () => ensureLoaded(search, assets));
  const face = await timed('detect', async () => faces.alignFace(await decodePhoto(photo)));
  if (!face) {
    post({ type: 'no-face' });
    return;
  }
  const embedding = await timed('embed', () => embedder.embed(face.crop));
  if (embedding.length !== search.he_profile.dim) {
    throw new Error(`the model gives ${embedding.length} numbers, the gallery holds ${search.he_profile.dim}`);
  }
  const context = await timed('keys', async () => {
    client?.dispose();
    const keys = await takeKeys(seal, search.he_profile);
    client = keys.client;
    return keys.context;
  });
  query = embedding;
  let norm2 = 0;
  for (const v of embedding) norm2 += v * v;
  post({ type: 'prepared', context, crop: face.crop, facesFound: face.nFaces, queryNorm2: norm2, cached }, [context.buffer as ArrayBuffer]);
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'warm':
      return warm(msg);
    case 'prepare':
      return prepare(msg);
    case 'encrypt': {
      if (!client || !query) throw new Error('no prepared search');
      const q = query;
      const bytes = await timed('encrypt', () => client!.encryptQuery(msg.keyId, q));
      post({ type: 'encrypted', query: bytes }, [bytes.buffer as ArrayBuffer]);
      return;
    }
    case 'decrypt': {
      if (!client) throw new Error('no prepared search');
      const scores = await timed('decrypt', () => client!.decryptScores(msg.scoreSet, msg.entries));
      const copy = Float64Array.from(scores);
      post({ type: 'decrypted', scores: copy }, [copy.buffer]);
      // The next search's keys, while the page ranks and shows this one (if that fails, the
      // next search makes its own).
      if (loaded) await makeSpare(loaded.seal, client.profile).catch(() => undefined);
      return;
    }
    case 'dispose':
      client?.dispose();
      client = null;
      spare?.client.dispose();
      spare = null;
      query = null;
      await unload();
      scope.close();
  }
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  handle(e.data).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
};
