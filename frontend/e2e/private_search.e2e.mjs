// Issue #13 in the dashboard: a private search on the Search page in Debian's Chromium. The
// photo is read, detected, aligned, embedded, encrypted in the page's worker; the server gets
// the public context and the query ciphertext; the worker decrypts and the page ranks. Then
// the same photo searched server-side. Every request the page and its worker made is logged.
//
//   PRIVFACE_URL=http://127.0.0.1:8766 PRIVFACE_USER=u PRIVFACE_PASSWORD=p GALLERY_ID=3 \
//   PHOTO=/work/shared/fixtures/faces/img12.jpg OUT_JSON=/tmp/out.json node frontend/e2e/private_search.e2e.mjs
//
// OUT_JSON receives both results (identity, score, stage timings, bytes) and the request log:
// method, path, resource type, body size, its first bytes (hex) and whether it holds the photo.
import { readFileSync, writeFileSync } from 'node:fs';
import { BASE, apiPath, logIn, page, runE2E, shot, step, text } from './harness.mjs';

const { GALLERY_ID, PHOTO, OUT_JSON } = process.env;
const SEARCH_TIMEOUT_MS = 4 * 60 * 1000; // first use: 14 MB of ort wasm compiled on a shared 2-core VM

function indexOf(haystack, needle) {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

await runE2E('private-search', {
  timeoutMs: 9 * 60 * 1000,
  viewport: { width: 1280, height: 1000 },
  setup: () => {
    if (!GALLERY_ID || !PHOTO || !OUT_JSON) throw new Error('GALLERY_ID, PHOTO and OUT_JSON must be set');
    return { photo: readFileSync(PHOTO) };
  },
  steps: async ({ photo }) => {
    const log = [];
    let phase = 'login';
    // A chunk of the photo's bytes: found in a body means the photo (or part of it) went up.
    const probe = photo.subarray(Math.floor(photo.length / 2), Math.floor(photo.length / 2) + 64);
    page.context().on('request', (r) => {
      const body = r.postDataBuffer();
      log.push({
        phase,
        method: r.method(),
        path: apiPath(r),
        query: new URL(r.url()).search,
        type: r.resourceType(),
        content_type: r.headers()['content-type'] ?? null,
        bytes: body ? body.length : 0,
        head: body ? body.subarray(0, 4).toString('hex') : '',
        has_photo: body ? indexOf(body, probe) >= 0 : false,
      });
    });
    const out = { requests: log };

    await step('log in', async () => {
      await logIn();
    });

    await step('search page: private mode is the default', async () => {
      phase = 'open';
      await page.goto(`${BASE}/search?gallery=${GALLERY_ID}`);
      const mode = page.getByLabel('Private search (your photo never leaves this browser)');
      await mode.waitFor();
      if (!(await mode.isChecked())) throw new Error('private search is not the default');
      await page.getByLabel('Photo', { exact: true }).setInputFiles(PHOTO);
    });

    await step('private search: the right person, stages timed', async () => {
      phase = 'private';
      const t = Date.now();
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      const result = page.getByTestId('private-result');
      await Promise.race([
        result.waitFor({ timeout: SEARCH_TIMEOUT_MS }),
        page.getByTestId('search-error').getByRole('alert').waitFor({ timeout: SEARCH_TIMEOUT_MS }).then(async () => {
          throw new Error(`the page says: ${await text(page.getByTestId('search-error'))}`);
        }),
      ]);
      const wall = Date.now() - t;
      const best = result.getByTestId('match-0');
      const timings = {};
      for (const row of await result.getByTestId('stage-timings').locator('[data-stage]').all()) {
        timings[await row.getAttribute('data-stage')] = await text(row);
      }
      out.private = {
        identity: await text(best.getByTestId('match-identity')),
        score: Number(await text(best.getByTestId('match-score'))),
        wall_ms: wall,
        timings,
        context: await text(result.getByTestId('context-bytes')),
        query: await text(result.getByTestId('upload-bytes')),
        scores: await text(result.getByTestId('response-bytes')),
      };
      await shot('private-search.png');
      return `${out.private.identity} ${out.private.score} in ${wall} ms; ${JSON.stringify(timings)}`;
    });

    await step('the same photo server-side', async () => {
      phase = 'server';
      await page.getByLabel('Server-side search (the server sees your photo)').check();
      const [response] = await Promise.all([
        page.waitForResponse((r) => apiPath(r) === `/api/galleries/${GALLERY_ID}/search/`, { timeout: SEARCH_TIMEOUT_MS }),
        page.getByRole('button', { name: 'Search', exact: true }).click(),
      ]);
      if (response.status() !== 200) throw new Error(`search returned ${response.status()}: ${await response.text()}`);
      const best = page.getByTestId('search-result').getByTestId('match-0');
      await best.waitFor();
      out.server = { identity: await text(best.getByTestId('match-identity')), score: Number(await text(best.getByTestId('match-score'))) };
      return `${out.server.identity} ${out.server.score}`;
    });
    writeFileSync(OUT_JSON, JSON.stringify(out, null, 1));
  },
});
