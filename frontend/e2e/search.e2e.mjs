// End-to-end check of the Galleries and Search pages against a running PrivFace server
// (Django + Celery worker), using the system Chromium through playwright-core: enroll an
// images gallery from labelled photos (live progress), search a held-out photo mirrored
// under encryption (right person first), and a photo without a face (422).
//
//   PRIVFACE_URL=http://127.0.0.1:8766 PRIVFACE_USER=e2e PRIVFACE_PASSWORD=secret \
//   FACES_DIR=/work/shared/fixtures/faces SCREENSHOT_DIR=/tmp/shots node frontend/e2e/search.e2e.mjs
//
// FACES_DIR holds the photos and labels.csv (`file,identity`). One photo of a person with at
// least three photos is held out of the gallery (the person's other photos stay enrolled).
// Prints one line per step; exits non-zero (after saving failure.png) on failure.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BASE, apiPath, logIn, page, runE2E, shot, sleep, step, text } from './harness.mjs';

const FACES = process.env.FACES_DIR;
const ENROLL_TIMEOUT_MS = 5 * 60 * 1000;
const GALLERY = 'shared faces';

/** `file,identity` rows of labels.csv. */
function readLabels(file) {
  const [header, ...lines] = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const cols = header.split(',').map((c) => c.trim());
  const fi = cols.indexOf('file');
  const ii = cols.indexOf('identity');
  if (fi < 0 || ii < 0) throw new Error(`${file}: expected the header file,identity, got "${header}"`);
  return lines.map((l) => {
    const cells = l.split(',').map((c) => c.trim());
    return { file: cells[fi], identity: cells[ii] };
  });
}

/** A held-out photo: the first of the first person with at least three photos. */
function holdOut(rows) {
  const counts = new Map();
  for (const r of rows) counts.set(r.identity, (counts.get(r.identity) ?? 0) + 1);
  const held = rows.find((r) => counts.get(r.identity) >= 3);
  if (!held) throw new Error('labels.csv has no person with three photos or more');
  return { held, enrolled: rows.filter((r) => r !== held) };
}

/** Mirror a JPEG left-right in the page (canvas), answering the new JPEG's bytes. */
async function mirroredJpeg(bytes) {
  const b64 = await page.evaluate(async (src) => {
    const img = new Image();
    img.src = `data:image/jpeg;base64,${src}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.translate(canvas.width, 0);
    ctx.scale(-1, 1);
    ctx.drawImage(img, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.92));
    const buf = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
    return btoa(s);
  }, bytes.toString('base64'));
  return Buffer.from(b64, 'base64');
}

/** A plain gray PNG (no face), made in the page. */
async function grayPng() {
  const b64 = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 240;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#808080';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/png').split(',')[1];
  });
  return Buffer.from(b64, 'base64');
}

/** Delete galleries named `name` left by an earlier run (API, with the session's CSRF cookie). */
async function deleteLeftovers(name) {
  return page.evaluate(async (galleryName) => {
    const csrf = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='))?.split('=')[1] ?? '';
    const res = await fetch(`/api/galleries/?name=${encodeURIComponent(galleryName)}`, { credentials: 'same-origin' });
    if (!res.ok) throw new Error(`GET /api/galleries/?name= returned ${res.status}`);
    const ids = (await res.json()).results.map((g) => g.id);
    for (const id of ids) {
      const del = await fetch(`/api/galleries/${id}/`, {
        method: 'DELETE',
        credentials: 'same-origin',
        headers: { 'X-CSRFToken': decodeURIComponent(csrf) },
      });
      if (del.status !== 204) throw new Error(`DELETE /api/galleries/${id}/ returned ${del.status}`);
    }
    return ids;
  }, name);
}

/** Click Search on the Search page and return the search response. */
async function runSearch() {
  const [response] = await Promise.all([
    page.waitForResponse((r) => /^\/api\/galleries\/\d+\/search\/$/.test(apiPath(r)) && r.request().method() === 'POST', {
      timeout: 60_000,
    }),
    page.getByRole('button', { name: 'Search', exact: true }).click(),
  ]);
  return response;
}

await runE2E('search', {
  timeoutMs: 8 * 60 * 1000,
  viewport: { width: 1280, height: 900 },
  setup: async () => {
    if (!FACES) throw new Error('FACES_DIR must be set (folder with the face photos and labels.csv)');
    const labelsFile = path.join(FACES, 'labels.csv');
    if (!existsSync(labelsFile)) throw new Error(`fixture missing: ${labelsFile}`);
    const rows = readLabels(labelsFile);
    for (const r of rows) if (!existsSync(path.join(FACES, r.file))) throw new Error(`fixture missing: ${path.join(FACES, r.file)}`);
    const { held, enrolled } = holdOut(rows);
    return { held, enrolled, identities: new Set(enrolled.map((r) => r.identity)).size };
  },
  steps: async ({ held, enrolled, identities }) => {
    page.on('dialog', (dialog) => dialog.accept().catch(() => {})); // "Delete gallery?" confirm

    await step('log in', async () => {
      await logIn();
      const removed = await deleteLeftovers(GALLERY);
      return removed.length ? `removed gallery #${removed.join(', #')} left by an earlier run` : '';
    });

    let galleryId;
    await step(`create images gallery "${GALLERY}" with ${enrolled.length} labelled photos`, async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Galleries' }).click();
      await page.waitForURL(`${BASE}/galleries`);
      const form = page.getByRole('form', { name: 'New gallery' });
      await form.getByLabel('Name', { exact: true }).fill(GALLERY);
      await form.getByLabel('from labelled photos').check();
      await form.getByLabel('Photos', { exact: true }).setInputFiles(enrolled.map((r) => path.join(FACES, r.file)));
      for (const r of enrolled) {
        const box = form.getByLabel(`Label for ${r.file}`, { exact: true });
        const suggested = await box.inputValue();
        if (suggested !== path.parse(r.file).name.split(/[_-]/)[0]) {
          throw new Error(`label for ${r.file} prefilled as "${suggested}"`);
        }
        await box.fill(r.identity);
      }
      await shot('gallery-create.png');
      const [created, uploaded] = await Promise.all([
        page.waitForResponse((r) => apiPath(r) === '/api/galleries/' && r.request().method() === 'POST'),
        page.waitForResponse((r) => /^\/api\/galleries\/\d+\/images\/$/.test(apiPath(r)), { timeout: 60_000 }),
        form.getByRole('button', { name: 'Create gallery' }).click(),
      ]);
      if (created.status() !== 201) throw new Error(`POST /api/galleries/ returned ${created.status()}: ${await created.text()}`);
      if (uploaded.status() !== 202) throw new Error(`POST …/images/ returned ${uploaded.status()}: ${await uploaded.text()}`);
      galleryId = (await created.json()).gallery.id;
      const job = (await uploaded.json()).job;
      await page.waitForURL(`${BASE}/galleries/${galleryId}`);
      await page.getByRole('heading', { name: GALLERY }).waitFor();
      return `gallery #${galleryId}, enrollment job #${job.id}; held out ${held.file} (${held.identity})`;
    });

    await step('enrollment: live progress, then ready', async () => {
      const seen = new Set();
      const deadline = Date.now() + ENROLL_TIMEOUT_MS;
      for (;;) {
        const status = await text(page.getByTestId('gallery-status'));
        if (status === 'ready') break;
        if (status === 'failed') throw new Error(`enrollment failed: ${await text(page.getByTestId('gallery-error')).catch(() => '')}`);
        const bar = page.getByRole('progressbar', { name: 'Enrollment progress' });
        if (await bar.count()) seen.add(Number(await bar.getAttribute('aria-valuenow').catch(() => NaN)));
        if (Date.now() > deadline) throw new Error(`gallery still "${status}" after ${ENROLL_TIMEOUT_MS / 1000} s`);
        await sleep(100);
      }
      const values = [...seen].filter(Number.isFinite);
      return `progress seen: ${values.join(' → ') || 'none (ready before the page first looked)'}`;
    });

    await step(`gallery page: ${identities} identities, ${enrolled.length} photos`, async () => {
      const shown = {
        identities: await text(page.getByTestId('gallery-identities')),
        templates: await text(page.getByTestId('gallery-templates')),
        photos: Number(await text(page.getByTestId('gallery-photos'))),
        skipped: Number(await text(page.getByTestId('gallery-skipped'))),
      };
      if (shown.identities !== String(identities) || shown.templates !== String(identities)) {
        throw new Error(`shows ${shown.identities} identities, ${shown.templates} templates; expected ${identities} (mean mode)`);
      }
      if (shown.photos + shown.skipped !== enrolled.length) {
        throw new Error(`shows ${shown.photos} photos + ${shown.skipped} skipped, ${enrolled.length} were sent`);
      }
      await page.getByTestId('embedder-note').waitFor();
      await shot('gallery.png');
      return `${shown.photos} enrolled, ${shown.skipped} skipped`;
    });

    const heldBytes = readFileSync(path.join(FACES, held.file));
    await step(`search the held-out ${held.file} mirrored: ${held.identity} first`, async () => {
      await page.getByRole('link', { name: 'Search this gallery' }).click();
      await page.waitForURL(`${BASE}/search?gallery=${galleryId}`);
      // (A control inside its <label> adds its value to the accessible name: "Gallery shared faces — …".)
      const select = page.getByRole('combobox', { name: /^Gallery\b/ });
      await page.waitForFunction((id) => document.querySelector('select')?.value === String(id), galleryId);
      const threshold = await page.getByRole('spinbutton', { name: /^Threshold\b/ }).inputValue();
      if (!threshold) throw new Error('the threshold was not prefilled from the gallery');
      const mirrored = await mirroredJpeg(heldBytes);
      const name = `${path.parse(held.file).name}-mirrored.jpg`;
      await page.getByLabel('Photo', { exact: true }).setInputFiles({ name, mimeType: 'image/jpeg', buffer: mirrored });
      await page.waitForFunction(() => {
        const img = document.querySelector('img[alt="Photo to search"]');
        return img && img.complete && img.naturalWidth > 0;
      });
      const response = await runSearch();
      if (response.status() !== 200) throw new Error(`search returned ${response.status()}: ${await response.text()}`);
      const result = await response.json();
      const best = page.getByTestId('match-0');
      await best.waitFor();
      const identity = await text(best.getByTestId('match-identity'));
      const score = await text(best.getByTestId('match-score'));
      if (identity !== held.identity) {
        throw new Error(`first match is "${identity}" (${score}), expected ${held.identity}; all: ${JSON.stringify(result.matches)}`);
      }
      if (!(await best.evaluate((el) => el.classList.contains('match-best')))) throw new Error('best match not highlighted');
      await page.waitForFunction(() => {
        const imgs = [...document.querySelectorAll('[data-testid="search-result"] img')];
        return imgs.length > 1 && imgs.every((img) => img.complete && img.naturalWidth > 0);
      }, null, { timeout: 15_000 });
      const sizes = ['upload-bytes', 'context-bytes', 'response-bytes'];
      const shownSizes = await Promise.all(sizes.map((id) => text(page.getByTestId(id))));
      if (shownSizes.some((s) => !/\d/.test(s ?? ''))) throw new Error(`server panel shows sizes ${shownSizes.join(', ')}`);
      await shot('search.png');
      const selected = await select.inputValue();
      return `${identity} ${score} (gallery #${selected}, threshold ${threshold}); query ${shownSizes[0]}, context ${shownSizes[1]}, scores ${shownSizes[2]}, total ${await text(page.getByTestId('total-seconds'))}`;
    });

    await step('search a plain gray PNG: the 422 message is shown next to the photo', async () => {
      await page.getByLabel('Photo', { exact: true }).setInputFiles({ name: 'gray.png', mimeType: 'image/png', buffer: await grayPng() });
      const response = await runSearch();
      if (response.status() !== 422) throw new Error(`search returned ${response.status()}, expected 422: ${await response.text()}`);
      const detail = (await response.json()).detail;
      const alert = page.getByTestId('search-error').getByRole('alert');
      await alert.waitFor();
      const shown = await text(alert);
      if (!detail || shown !== detail) throw new Error(`shows "${shown}", the server said "${detail}"`);
      if (await page.getByTestId('search-result').count()) throw new Error('a result is still shown');
      return `"${shown}"`;
    });

    await step('delete the gallery (confirm)', async () => {
      await page.goto(`${BASE}/galleries/${galleryId}`);
      await page.getByRole('button', { name: 'Delete gallery' }).click();
      await page.waitForURL(`${BASE}/galleries`);
      await page.getByRole('heading', { name: 'Galleries' }).waitFor();
      await page.getByText('Loading…').waitFor({ state: 'detached' });
      if (await page.getByTestId(`gallery-row-${galleryId}`).count()) throw new Error('the gallery is still listed');
    });
  },
});
