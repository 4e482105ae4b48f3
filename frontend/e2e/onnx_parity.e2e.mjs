// The browser's embedder in Debian's Chromium, against a running PrivFace server: the page
// reads a registered model's `onnx` entry from the model API (token auth), downloads
// backbone.onnx, checks its sha256, caches it (Cache Storage, by digest), runs it with
// onnxruntime-web on given aligned 112x112 RGB crops and returns the unit templates.
// frontend/src/private/embed.ts is transpiled here and served under /__onnx__/ by request
// routing (same origin as the API), with onnxruntime-web's wasm from node_modules: nothing
// is downloaded from outside.
//
//   PRIVFACE_URL=http://127.0.0.1:8766 PRIVFACE_USER=u PRIVFACE_PASSWORD=p PRIVFACE_TOKEN=... \
//   MODEL_ID=3 CROPS_JSON=/tmp/crops.json OUT_JSON=/tmp/out.json node frontend/e2e/onnx_parity.e2e.mjs
//
// CROPS_JSON holds {"count": n, "rgb_b64": "<n x 112 x 112 x 3 bytes>"}; OUT_JSON receives
// the templates, the timings, whether the second load came from the cache, and how a wrong
// digest was answered.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { moduleRoutes, NODE_MODULES } from './modules.mjs';
import { BASE, page, runE2E, step } from './harness.mjs';

const ORT_DIST = path.join(NODE_MODULES, 'onnxruntime-web', 'dist');
// What `import('onnxruntime-web/wasm')` resolves to in a bundler (the package's exports).
const ORT_MODULE = 'ort.wasm.bundle.min.mjs';
const { PRIVFACE_TOKEN: TOKEN, MODEL_ID, CROPS_JSON, OUT_JSON } = process.env;

const serve = moduleRoutes('/__onnx__/', {
  title: 'onnx',
  folders: { 'ort/': ORT_DIST },
  rewrite: (text) => text.replace(/import\('onnxruntime-web\/wasm'\)/g, `import('/__onnx__/ort/${ORT_MODULE}')`),
});

runE2E('ONNX parity', {
  timeoutMs: 4 * 60 * 1000,
  setup: () => {
    if (!TOKEN || !MODEL_ID || !CROPS_JSON || !OUT_JSON) {
      throw new Error('PRIVFACE_TOKEN, MODEL_ID, CROPS_JSON and OUT_JSON must be set');
    }
    return JSON.parse(readFileSync(CROPS_JSON, 'utf8'));
  },
  steps: async (crops) => {
    let result;
    const downloads = [];
    await step('serve the embedder module and onnxruntime-web on the app origin', async () => {
      await page.route(`${BASE}/__onnx__/**`, serve);
      page.on('request', (r) => {
        if (new URL(r.url()).pathname.endsWith('/onnx/')) downloads.push(r.url());
      });
      await page.goto(`${BASE}/__onnx__/index.html`);
    });
    await step('download, check, cache and run the registered model in the page', async () => {
      result = await page.evaluate(
        async ({ token, modelId, count, rgbB64 }) => {
          const embed = await import('/__onnx__/embed.js');
          const fetchWithToken = (url) => fetch(url, { headers: { Authorization: `Token ${token}` } });
          const times = {};
          let t = performance.now();
          const lap = (name) => {
            const now = performance.now();
            times[name] = Math.round((now - t) * 10) / 10;
            t = now;
          };
          const model = await (await fetchWithToken(`/api/models/${modelId}/`)).json();
          if (!model.onnx) throw new Error(`model ${modelId} lists no ONNX export: ${JSON.stringify(model)}`);
          const source = { fetch: fetchWithToken, caches: window.caches };
          await caches.delete(embed.MODEL_CACHE);
          const first = await embed.modelBytes(model.onnx, source);
          lap('download_check_ms');
          const embedder = await embed.BrowserEmbedder.load(first.bytes, { wasmPaths: '/__onnx__/ort/' });
          lap('session_ms');
          const raw = Uint8Array.from(atob(rgbB64), (c) => c.charCodeAt(0));
          const size = 112 * 112 * 3;
          const templates = [];
          const perCrop = [];
          for (let i = 0; i < count; i++) {
            const t0 = performance.now();
            templates.push(Array.from(await embedder.embed(raw.subarray(i * size, (i + 1) * size))));
            perCrop.push(performance.now() - t0);
          }
          lap('embed_all_ms');
          const batch = await embedder.embedBatch(raw, count);
          lap('embed_batch_ms');
          await embedder.dispose();
          const second = await embed.modelBytes(model.onnx, source);
          lap('cached_load_ms');
          let wrongDigest = null;
          try {
            await embed.modelBytes({ ...model.onnx, sha256: '0'.repeat(64) }, source);
          } catch (err) {
            wrongDigest = `${err.name}: ${err.message}`;
          }
          perCrop.sort((a, b) => a - b);
          times.embed_median_ms = Math.round(perCrop[Math.floor(count / 2)] * 10) / 10;
          return {
            templates, batch: Array.from(batch), dim: embedder.dim, onnx: model.onnx, times,
            first_from_cache: first.fromCache, second_from_cache: second.fromCache, wrong_digest: wrongDigest,
            model_bytes: first.bytes.length,
          };
        },
        { token: TOKEN, modelId: MODEL_ID, count: crops.count, rgbB64: crops.rgb_b64 },
      );
      result.downloads = downloads.length;
      writeFileSync(OUT_JSON, JSON.stringify(result));
      return `${result.templates.length} templates of ${result.dim}, ${result.model_bytes} model bytes, ${JSON.stringify(result.times)}`;
    });
  },
});
