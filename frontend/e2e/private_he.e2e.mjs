// The HE half of a private search in Debian's Chromium, against a running PrivFace server
// (Django + Celery worker): node-seal makes the keys in the page, encrypts a given query
// embedding in the server's layout, POSTs the public context and the query through the real
// API (token auth), and decrypts the encrypted scores. The page's modules are
// frontend/src/private/*.ts, transpiled here and served under /__he__/ by request routing
// (same origin as the API); no dashboard build is needed.
//
//   PRIVFACE_URL=http://127.0.0.1:8766 PRIVFACE_USER=u PRIVFACE_PASSWORD=p PRIVFACE_TOKEN=... \
//   GALLERY_ID=3 QUERY_JSON=/tmp/q.json OUT_JSON=/tmp/out.json node frontend/e2e/private_he.e2e.mjs
//
// QUERY_JSON holds {"query": [..dim floats..]}; OUT_JSON receives the decrypted scores, the
// bytes the page uploaded (base64), their sizes, the timings, and how the server answered a
// "context" that holds the browser's secret key.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { moduleRoutes, NODE_MODULES } from './modules.mjs';
import { BASE, page, runE2E, step } from './harness.mjs';

const SEAL_DIST = path.join(NODE_MODULES, 'node-seal', 'dist');
const { PRIVFACE_TOKEN: TOKEN, GALLERY_ID, QUERY_JSON, OUT_JSON } = process.env;

// Local imports get .js, node-seal its URL.
const serve = moduleRoutes('/__he__/', {
  title: 'he',
  folders: { 'seal/': SEAL_DIST },
  rewrite: (text) =>
    text.replace(/from '\.\/(\w+)'/g, "from './$1.js'").replace(/from 'node-seal'/g, "from '/__he__/seal/index_throws.js'"),
});

runE2E('private HE', {
  timeoutMs: 4 * 60 * 1000,
  setup: () => {
    if (!TOKEN || !GALLERY_ID || !QUERY_JSON || !OUT_JSON) {
      throw new Error('PRIVFACE_TOKEN, GALLERY_ID, QUERY_JSON and OUT_JSON must be set');
    }
    return JSON.parse(readFileSync(QUERY_JSON, 'utf8')).query;
  },
  steps: async (query) => {
    let result;
    await step('serve the private-search modules on the app origin', async () => {
      await page.route(`${BASE}/__he__/**`, serve);
      await page.goto(`${BASE}/__he__/index.html`);
    });
    await step('keys, query, encrypted search and decryption in the page', async () => {
      result = await page.evaluate(
        async ({ token, galleryId, query }) => {
          const he = await import('/__he__/he.js');
          const wire = await import('/__he__/wire.js');
          const api = async (url, body) => {
            const init = { headers: { Authorization: `Token ${token}` } };
            if (body) Object.assign(init, { method: 'POST', body, headers: { ...init.headers, 'Content-Type': 'application/octet-stream' } });
            return fetch(url, init);
          };
          const b64 = (bytes) => {
            let s = '';
            for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
            return btoa(s);
          };
          const times = {};
          let t = performance.now();
          const lap = (name) => {
            const now = performance.now();
            times[name] = Math.round((now - t) * 10) / 10;
            t = now;
          };
          const seal = await he.loadSeal('/__he__/seal/seal_throws.wasm');
          lap('wasm_load_ms');
          const gallery = await (await api(`/api/galleries/${galleryId}/`)).json();
          lap('gallery_ms');
          const client = new he.BrowserHEClient(seal, gallery.he_profile);
          lap('secret_key_ms');
          const context = await client.publicContext();
          lap('galois_keys_ms');
          const registered = await api('/api/he/contexts/', context);
          const reg = await registered.json();
          if (registered.status !== 201) throw new Error(`context refused (${registered.status}): ${JSON.stringify(reg)}`);
          lap('context_upload_ms');
          const queryBytes = await client.encryptQuery(reg.key_id, query);
          lap('encrypt_ms');
          const answer = await api(`/api/galleries/${galleryId}/encrypted-search/?key_id=${reg.key_id}`, queryBytes);
          if (answer.status !== 200) throw new Error(`search refused (${answer.status}): ${await answer.text()}`);
          const container = new Uint8Array(await answer.arrayBuffer());
          lap('search_ms');
          const scores = await client.decryptScores(container, gallery.templates);
          lap('decrypt_ms');
          // A "public context" that is the browser's secret key must be refused.
          const secret = await wire.pack('public_context', { profile: gallery.he_profile, format: he.BROWSER_FORMAT },
            [client.secretKeyForTests()]);
          const refused = await api('/api/he/contexts/', secret);
          const parms = client.encryptionParameters();
          const secretKey = client.secretKeyForTests();
          client.dispose();
          return {
            scores: Array.from(scores), key_id: reg.key_id, format: reg.format, profile: gallery.he_profile,
            entries: gallery.templates, times, server_seconds: answer.headers.get('X-Server-Seconds'),
            bytes: { context: context.length, query: queryBytes.length, scores: container.length },
            context_b64: b64(context), query_b64: b64(queryBytes), parms_b64: b64(parms),
            secret_key_b64: b64(secretKey),
            secret_status: refused.status, secret_detail: (await refused.json()).detail,
          };
        },
        { token: TOKEN, galleryId: GALLERY_ID, query },
      );
      writeFileSync(OUT_JSON, JSON.stringify(result));
      return `${result.entries} scores, ${JSON.stringify(result.bytes)} bytes, ${JSON.stringify(result.times)}`;
    });
  },
});
