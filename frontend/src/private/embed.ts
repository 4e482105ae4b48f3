// The embedder of a private search, in the browser: the registry's backbone.onnx (written
// by training/engine/onnx_export.py) run by onnxruntime-web, the same file and the same
// runtime as the server's onnxruntime. The file's contract: input `image`, (N, 112, 112, 3)
// uint8 RGB (the aligned crop as is; (x - 127.5) / 128 is inside the graph), output
// `embedding`, (N, dim) float32 raw; templates are its L2-normalised rows, as on the server.
//
// The model bytes are checked against the sha256 the model API lists before use, and kept
// in Cache Storage under that digest, so a cached copy is checked again on every load.
// onnxruntime-web is imported on first use: its wasm (14 MB) is only fetched for a search.
import type * as Ort from 'onnxruntime-web/wasm';

export const INPUT_NAME = 'image';
export const OUTPUT_NAME = 'embedding';
export const CROP_SIZE = 112;
export const MODEL_CACHE = 'privface-models';

export class ModelDigestError extends Error {
  override name = 'ModelDigestError';
}

/** sha256 of bytes, lowercase hex (Web Crypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `bytes` if their sha256 is `expected`, else a ModelDigestError naming both. */
export async function checkDigest(bytes: Uint8Array, expected: string): Promise<Uint8Array> {
  const actual = await sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new ModelDigestError(`model file sha256 ${actual.slice(0, 12)}, expected ${expected.slice(0, 12)}`);
  }
  return bytes;
}

/** The model API's `onnx` entry of a model: where to fetch the file and its digest. */
export interface OnnxEntry {
  sha256: string;
  url: string;
  bytes?: number | null;
}

export interface ModelSource {
  /** `fetch` with the page's credentials (token header or session cookie). */
  fetch: (url: string) => Promise<Response>;
  /** Cache Storage, or null where there is none (then every load downloads). */
  caches?: CacheStorage | null;
}

/** The model's bytes, from the cache when a copy with the right digest is there, else
 *  downloaded, checked and cached. `fromCache` says which. */
export async function modelBytes(entry: OnnxEntry, source: ModelSource): Promise<{ bytes: Uint8Array; fromCache: boolean }> {
  const store = source.caches ? await source.caches.open(MODEL_CACHE) : null;
  const key = `/__privface_models__/${entry.sha256}.onnx`;
  const cached = store ? await store.match(key) : undefined;
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    try {
      return { bytes: await checkDigest(bytes, entry.sha256), fromCache: true };
    } catch (err) {
      if (!(err instanceof ModelDigestError)) throw err;
      await store!.delete(key); // a damaged copy: fetch it again
    }
  }
  const response = await source.fetch(entry.url);
  if (!response.ok) throw new Error(`model download failed (${response.status})`);
  const bytes = await checkDigest(new Uint8Array(await response.arrayBuffer()), entry.sha256);
  if (store) await store.put(key, new Response(bytes as BodyInit, { headers: { 'Content-Type': 'application/octet-stream' } }));
  return { bytes, fromCache: false };
}

/** An RGBA ImageData buffer (canvas) as the RGB bytes the model reads. */
export function rgbFromRgba(rgba: Uint8ClampedArray | Uint8Array): Uint8Array {
  if (rgba.length % 4 !== 0) throw new Error('RGBA data must have 4 bytes per pixel');
  const rgb = new Uint8Array((rgba.length / 4) * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  return rgb;
}

/** Each row of a (n, dim) row-major array scaled to unit length, as the server's l2_normalise. */
export function l2NormaliseRows(values: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < values.length; r += dim) {
    let sum = 0;
    for (let i = r; i < r + dim; i++) sum += values[i] * values[i];
    const norm = Math.sqrt(sum);
    const scale = norm > 0 ? 1 / norm : 0;
    for (let i = r; i < r + dim; i++) out[i] = values[i] * scale;
  }
  return out;
}

export interface EmbedderOptions {
  /** Where the app serves onnxruntime-web's .wasm files (a URL prefix ending in /). */
  wasmPaths?: string;
  /** wasm threads; more than 1 needs a cross-origin-isolated page. */
  numThreads?: number;
  /** onnxruntime-web itself, when the caller has loaded it (tests serve it by URL). */
  ort?: typeof Ort;
}

export class BrowserEmbedder {
  private constructor(
    private readonly session: Ort.InferenceSession,
    private readonly ort: typeof Ort,
    readonly size: number,
    readonly dim: number,
  ) {}

  /** A session of an ONNX model's bytes (check them with modelBytes/checkDigest first). */
  static async load(model: Uint8Array, options: EmbedderOptions = {}): Promise<BrowserEmbedder> {
    const ort = options.ort ?? (await import('onnxruntime-web/wasm'));
    if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
    ort.env.wasm.numThreads = options.numThreads ?? 1;
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
    if (!session.inputNames.includes(INPUT_NAME) || !session.outputNames.includes(OUTPUT_NAME)) {
      await session.release();
      throw new Error(`not a PrivFace backbone: inputs ${session.inputNames}, outputs ${session.outputNames}`);
    }
    // One probe tells the embedding size, whatever the card says.
    const probe = await session.run({ [INPUT_NAME]: new ort.Tensor('uint8', new Uint8Array(CROP_SIZE * CROP_SIZE * 3), [1, CROP_SIZE, CROP_SIZE, 3]) });
    const dims = probe[OUTPUT_NAME].dims;
    return new BrowserEmbedder(session, ort, CROP_SIZE, Number(dims[dims.length - 1]));
  }

  /** Unit-length templates of n aligned crops, RGB bytes back to back: (n * dim) row-major. */
  async embedBatch(rgb: Uint8Array, n: number): Promise<Float32Array> {
    const pixels = this.size * this.size * 3;
    if (n < 1 || rgb.length !== n * pixels) {
      throw new Error(`expected ${n} RGB crops of ${this.size}x${this.size}, got ${rgb.length} bytes`);
    }
    const input = new this.ort.Tensor('uint8', rgb, [n, this.size, this.size, 3]);
    const out = (await this.session.run({ [INPUT_NAME]: input }))[OUTPUT_NAME];
    return l2NormaliseRows(out.data as Float32Array, this.dim);
  }

  /** The unit-length template of one aligned 112x112 RGB crop. */
  async embed(rgb: Uint8Array): Promise<Float32Array> {
    return this.embedBatch(rgb, 1);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
