// The worker and its wasm files as the Vite build serves them: same origin, from /static/
// (no CDN, nothing fetched from elsewhere at run time). Kept apart so tests can mock it.
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import sealWasm from 'node-seal/seal_throws.wasm?url'; // an alias in vite.config.ts (not in node-seal's exports)
import type { WorkerPort } from './privateSearch';
import type { WasmAssets } from './protocol';

export const WASM_ASSETS: WasmAssets = { ort: ortWasm, seal: sealWasm };

export function makeSearchWorker(): WorkerPort {
  return new Worker(new URL('./search.worker.ts', import.meta.url), { type: 'module', name: 'private-search' }) as unknown as WorkerPort;
}
