// Face detection, landmarks and alignment in Debian's Chromium (frontend/src/private/faces.ts,
// onnxruntime-web), for parity with inference/engine/portable_faces.py. Needs no server: the
// page, the transpiled module, onnxruntime-web's wasm (node_modules), the two ONNX files
// (inference/engine/face_models/) and the photos are all served by request routing on one
// origin (PRIVFACE_URL, default http://127.0.0.1:8000, is never contacted).
//
//   PHOTOS_DIR=../shared/fixtures/faces PIXELS_DIR=/tmp/px OUT_JSON=/tmp/out.json \
//   PRIVFACE_USER=- PRIVFACE_PASSWORD=- node frontend/e2e/portable_faces.e2e.mjs
//
// PIXELS_DIR holds manifest.json ([{"file", "width", "height"}]) and <file>.rgb: the server's
// decoding (PIL) of each photo, raw RGB. For every photo the page aligns the face twice: in
// the photo as the browser decodes it, and in the server's pixels; it also compares the two
// decodings. OUT_JSON receives, per photo, both results (box, score, faces, 5 points, crop
// as base64) and the decoding difference, plus the models' sha256 and timings.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleRoutes, NODE_MODULES } from './modules.mjs';
import { BASE, page, runE2E, step } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(HERE, '..', '..');
const MODELS = path.join(ROOT, 'inference', 'engine', 'face_models');
const ORT_DIST = path.join(NODE_MODULES, 'onnxruntime-web', 'dist');
const ORT_MODULE = 'ort.wasm.bundle.min.mjs'; // what `import('onnxruntime-web/wasm')` resolves to
const { PHOTOS_DIR, PIXELS_DIR, OUT_JSON } = process.env;

const serve = moduleRoutes('/__faces__/', {
  title: 'faces',
  folders: {
    'ort/': ORT_DIST,
    'models/': MODELS,
    'photos/': [PHOTOS_DIR, 'image/jpeg'],
    'pixels/': [PIXELS_DIR, 'application/octet-stream'],
  },
  rewrite: (text) => text.replace(/import\('onnxruntime-web\/wasm'\)/g, `import('/__faces__/ort/${ORT_MODULE}')`),
});

runE2E('portable faces', {
  timeoutMs: 8 * 60 * 1000,
  setup: () => {
    if (!PHOTOS_DIR || !PIXELS_DIR || !OUT_JSON) throw new Error('PHOTOS_DIR, PIXELS_DIR and OUT_JSON must be set');
    return JSON.parse(readFileSync(path.join(PIXELS_DIR, 'manifest.json'), 'utf8'));
  },
  steps: async (manifest) => {
    await step('serve faces.ts, onnxruntime-web, the models and the photos on one origin', async () => {
      await page.route(`${BASE}/__faces__/**`, serve);
      await page.goto(`${BASE}/__faces__/index.html`);
    });
    await step('detect, landmark and align every photo in the page', async () => {
      const result = await page.evaluate(async (photos) => {
        const faces = await import('/__faces__/faces.js');
        const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
        const hex = async (bytes) => Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)),
          (b) => b.toString(16).padStart(2, '0')).join('');
        const b64 = (bytes) => btoa(String.fromCharCode(...bytes));
        const t0 = performance.now();
        const detector = await get('/__faces__/models/tiny_face_detector.onnx');
        const landmarker = await get('/__faces__/models/face_landmark_68.onnx');
        const models = { 'tiny_face_detector.onnx': await hex(detector), 'face_landmark_68.onnx': await hex(landmarker) };
        const engine = await faces.BrowserFaces.load(detector, landmarker, { wasmPaths: '/__faces__/ort/' });
        const loadMs = performance.now() - t0;
        const face = (f) => f && {
          box: f.box, score: f.score, n_faces: f.nFaces, points5: f.points5, crop_b64: b64(f.crop),
        };
        const out = [];
        const alignMs = [];
        for (const { file, width, height } of photos) {
          const decoded = await faces.decodePhoto(new Blob([await get(`/__faces__/photos/${file}`)], { type: 'image/jpeg' }));
          const server = { width, height, data: await get(`/__faces__/pixels/${file}.rgb`) };
          let decode = { same_size: decoded.width === width && decoded.height === height };
          if (decode.same_size) {
            let sum = 0, max = 0, differ = 0;
            for (let i = 0; i < server.data.length; i++) {
              const d = Math.abs(decoded.data[i] - server.data[i]);
              sum += d; max = Math.max(max, d); differ += d ? 1 : 0;
            }
            decode = { ...decode, mad: sum / server.data.length, max, differing: differ / server.data.length };
          }
          const t = performance.now();
          const browser = await engine.alignFace(decoded);
          alignMs.push(performance.now() - t);
          out.push({ file, decode, browser: face(browser), server_pixels: face(await engine.alignFace(server)) });
        }
        await engine.dispose();
        alignMs.sort((a, b) => a - b);
        return { photos: out, models, load_ms: loadMs, align_median_ms: alignMs[Math.floor(alignMs.length / 2)] };
      }, manifest);
      writeFileSync(OUT_JSON, JSON.stringify(result));
      return `${result.photos.length} photos, models loaded in ${Math.round(result.load_ms)} ms, ${Math.round(result.align_median_ms)} ms per photo (median)`;
    });
  },
});
