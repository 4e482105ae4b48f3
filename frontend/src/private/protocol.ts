// The messages between the Search page and search.worker.ts, and the pure pieces of a private
// search that the page does itself: reading a score set's header and ranking decrypted scores
// as the CLI does (inference/engine/cli.py `_remote`: labels version check, score rule,
// best template per identity, top-k, threshold, 4 decimals).
import type { OnnxEntry } from './embed';
import type { SearchProfile } from './layout';
import { PayloadError } from './wire';

/** A gallery's `private_search` block (null where the gallery cannot be searched privately). */
export interface PrivateSearchBlock {
  faces: { pipeline: string; detector: OnnxEntry; landmarks: OnnxEntry };
  model: { id: number | string; onnx: OnnxEntry };
  score_rule: 'cosine' | 'euclidean' | (string & {});
  threshold: number | null;
  he_profile: SearchProfile;
}

/** The only face pipeline faces.ts implements (portable_faces.py). */
export const PORTABLE_PIPELINE = 'portable-1';

/** Where the Vite build serves the wasm files (same origin, nothing from a CDN). */
export interface WasmAssets {
  ort: string; // ort-wasm-simd-threaded.wasm
  seal: string; // seal_throws.wasm
}

export type Stage =
  | 'models' // fetch (or take from Cache Storage) + digest check + wasm sessions
  | 'detect' // decode the photo, detect, 68 landmarks, align
  | 'embed'
  | 'keys' // CKKS secret key + Galois keys
  | 'context_upload' // POST /api/he/contexts/ (main thread)
  | 'encrypt'
  | 'search' // query upload + server scoring + answer (main thread)
  | 'decrypt'
  | 'rank'; // labels fetch + ranking (main thread)

export const STAGES: readonly Stage[] = ['models', 'detect', 'embed', 'keys', 'context_upload', 'encrypt', 'search', 'decrypt', 'rank'];

export const STAGE_LABELS: Record<Stage, string> = {
  models: 'Loading the face and embedding models',
  detect: 'Finding and aligning the face',
  embed: 'Computing the face template',
  keys: 'Making a fresh key pair',
  context_upload: 'Sending the public keys',
  encrypt: 'Encrypting the template',
  search: 'Scoring under encryption on the server',
  decrypt: 'Decrypting the scores',
  rank: 'Ranking',
};

export type ToWorker =
  /** Load the models and node-seal and make the next search's keys before a photo is chosen. */
  | { type: 'warm'; search: PrivateSearchBlock; assets: WasmAssets }
  | { type: 'prepare'; photo: Blob; search: PrivateSearchBlock; assets: WasmAssets }
  | { type: 'encrypt'; keyId: string }
  | { type: 'decrypt'; scoreSet: Uint8Array; entries: number }
  | { type: 'dispose' };

export type FromWorker =
  | { type: 'progress'; stage: Stage; done: boolean; ms?: number }
  | { type: 'warmed'; cached: boolean }
  /** The face was found; the crop stays in this browser (shown on the page only). */
  | { type: 'prepared'; context: Uint8Array; crop: Uint8Array; facesFound: number; queryNorm2: number; cached: boolean }
  | { type: 'no-face' }
  | { type: 'encrypted'; query: Uint8Array }
  | { type: 'decrypted'; scores: Float64Array }
  | { type: 'error'; message: string };

/** The score set's header (gallery, version, entries, key_id), read without checking digests
 *  (the worker checks them when it decrypts). */
export function scoreSetHeader(data: Uint8Array): { version: number; entries: number; key_id?: string } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 9 || String.fromCharCode(...data.subarray(0, 4)) !== 'PFHE') {
    throw new PayloadError('the server answered something else than a score set');
  }
  const len = view.getUint32(5, true);
  if (9 + len > data.length) throw new PayloadError('truncated score set');
  const header = JSON.parse(new TextDecoder().decode(data.subarray(9, 9 + len))) as Record<string, unknown>;
  if (header.kind !== 'score_set' || !Number.isInteger(header.entries) || !Number.isInteger(header.version)) {
    throw new PayloadError('the server answered something else than a score set');
  }
  return { version: header.version as number, entries: header.entries as number, key_id: header.key_id as string | undefined };
}

/** GET /api/galleries/<id>/labels/ */
export interface GalleryLabels {
  version: number;
  entries: number;
  labels: string[];
  score?: string;
  sq_norms?: number[];
}

export const SCORE_DECIMALS = 4;

export class GalleryChangedError extends Error {
  override name = 'GalleryChangedError';
}

/** Dot products -> the gallery's scores (gallery.to_scores). */
export function toScores(dots: ArrayLike<number>, rule: string, queryNorm2: number, sqNorms?: number[]): Float64Array {
  const out = Float64Array.from(dots);
  if (rule === 'cosine') return out;
  if (rule !== 'euclidean') throw new Error(`unknown score rule ${rule}`);
  if (!sqNorms || sqNorms.length !== out.length) throw new Error('the euclidean rule needs the templates\' squared norms');
  for (let i = 0; i < out.length; i++) out[i] = 1 + out[i] - 0.5 * queryNorm2 - 0.5 * sqNorms[i];
  return out;
}

export interface RankedMatch {
  identity: string;
  score: number;
}

/** Best template per identity, top k by score, at or above the threshold (protocol.rank). */
export function rankScores(scores: ArrayLike<number>, labels: readonly string[], k: number, threshold: number | null): RankedMatch[] {
  if (scores.length !== labels.length) throw new Error(`${scores.length} scores for ${labels.length} labels`);
  const best = new Map<string, number>();
  for (let i = 0; i < labels.length; i++) {
    const prev = best.get(labels[i]);
    if (prev === undefined || scores[i] > prev) best.set(labels[i], scores[i]);
  }
  // Map keeps first-seen order and sort is stable: ties rank as numpy's stable argsort does.
  const ranked = [...best].map(([identity, score]) => ({ identity, score })).sort((a, b) => b.score - a.score);
  const scale = 10 ** SCORE_DECIMALS;
  return ranked
    .slice(0, Math.max(0, k))
    .filter((m) => threshold === null || m.score >= threshold)
    .map((m) => ({ identity: m.identity, score: Math.round(m.score * scale) / scale }));
}

/** Scores + labels -> matches, refusing labels of another gallery version than was scored. */
export function rankAnswer(
  dots: ArrayLike<number>,
  header: { version: number; entries: number },
  labels: GalleryLabels,
  opts: { rule: string; queryNorm2: number; topK: number; threshold: number | null },
): RankedMatch[] {
  if (labels.version !== header.version || labels.entries !== header.entries) {
    throw new GalleryChangedError('The gallery changed during the search; run it again.');
  }
  const rule = labels.score ?? 'cosine';
  if (rule !== opts.rule) throw new Error(`the gallery scores by ${rule}, its private search by ${opts.rule}`);
  return rankScores(toScores(dots, rule, opts.queryNorm2, labels.sq_norms), labels.labels, opts.topK, opts.threshold);
}

/** Whether this browser can run a private search (WebAssembly, module Workers, OffscreenCanvas). */
export function browserSupportsPrivateSearch(g: typeof globalThis = globalThis): boolean {
  return typeof g.WebAssembly === 'object' && typeof g.Worker === 'function' && typeof (g as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'function';
}
