// End-to-end check that a trained model of the registry closes the loop in the dashboard:
// create a gallery of labelled photos that embeds with the model (chosen in the form),
// enrollment on a worker, the gallery page shows the model, its privacy and the calibrated
// threshold, and a search finds a person with it (the result names the model and its ε).
//
//   PRIVFACE_URL=http://127.0.0.1:8766 PRIVFACE_USER=e2e PRIVFACE_PASSWORD=secret MODEL_ID=3 MODEL_NAME='casia dp' \
//   FACES_DIR=/work/shared/fixtures/faces SCREENSHOT_DIR=/tmp/shots node frontend/e2e/model_gallery.e2e.mjs
//
// The model is whatever the registry holds (the pytest wrapper trains one with `run.py train`
// in the same run). A one-epoch model on the tiny synthetic dataset cannot tell real people
// apart, so the search uses one of the enrolled photos (one template per photo): the loop is
// under test here, not the model's accuracy (docs/faces.md has that).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { BASE, apiPath, logIn, page, runE2E, shot, sleep, step, text } from './harness.mjs';

const FACES = process.env.FACES_DIR;
const MODEL_ID = process.env.MODEL_ID;
const MODEL_NAME = process.env.MODEL_NAME;
const GALLERY = 'model faces';
const PEOPLE = ['person_00', 'person_01'];
const ENROLL_TIMEOUT_MS = 5 * 60 * 1000;

function enrolledRows() {
  const [, ...lines] = readFileSync(path.join(FACES, 'labels.csv'), 'utf8').split(/\r?\n/).filter((l) => l.trim());
  const rows = lines.map((l) => {
    const [file, identity] = l.split(',').map((c) => c.trim());
    return { file, identity };
  });
  return PEOPLE.flatMap((p) => rows.filter((r) => r.identity === p).slice(0, 3));
}

await runE2E('model-gallery', {
  timeoutMs: 8 * 60 * 1000,
  viewport: { width: 1280, height: 900 },
  setup: async () => {
    if (!FACES || !MODEL_ID || !MODEL_NAME) throw new Error('FACES_DIR, MODEL_ID and MODEL_NAME must be set');
    const rows = enrolledRows();
    for (const r of rows) if (!existsSync(path.join(FACES, r.file))) throw new Error(`fixture missing: ${r.file}`);
    return { rows };
  },
  steps: async ({ rows }) => {
    await step('log in', async () => {
      await logIn();
    });

    let galleryId;
    await step(`create "${GALLERY}" with model #${MODEL_ID} from ${rows.length} labelled photos`, async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Galleries' }).click();
      await page.waitForURL(`${BASE}/galleries`);
      const form = page.getByRole('form', { name: 'New gallery' });
      await form.getByLabel('Name', { exact: true }).fill(GALLERY);
      const embedder = form.getByRole('combobox', { name: 'Embedder' });
      await page.waitForFunction((id) => [...document.querySelectorAll('option')].some((o) => o.value === id), MODEL_ID);
      const label = await embedder.locator(`option[value="${MODEL_ID}"]`).textContent();
      if (!label.startsWith(MODEL_NAME) || !label.includes('ε')) throw new Error(`the model is offered as "${label}"`);
      await embedder.selectOption(MODEL_ID);
      await form.getByLabel('Templates').selectOption('all');
      await form.getByLabel('from labelled photos').check();
      await form.getByLabel('Photos', { exact: true }).setInputFiles(rows.map((r) => path.join(FACES, r.file)));
      for (const r of rows) await form.getByLabel(`Label for ${r.file}`, { exact: true }).fill(r.identity);
      const [created] = await Promise.all([
        page.waitForResponse((r) => apiPath(r) === '/api/galleries/' && r.request().method() === 'POST'),
        form.getByRole('button', { name: 'Create gallery' }).click(),
      ]);
      if (created.status() !== 201) throw new Error(`POST /api/galleries/ returned ${created.status()}: ${await created.text()}`);
      const body = await created.json();
      if (body.gallery.model !== Number(MODEL_ID)) throw new Error(`the gallery uses model ${body.gallery.model}`);
      galleryId = body.gallery.id;
      await page.waitForURL(`${BASE}/galleries/${galleryId}`);
      return `gallery #${galleryId}, embedder "${label}"`;
    });

    await step('enrollment on the worker, then ready', async () => {
      const deadline = Date.now() + ENROLL_TIMEOUT_MS;
      for (;;) {
        const status = await text(page.getByTestId('gallery-status'));
        if (status === 'ready') break;
        if (status === 'failed') throw new Error(`enrollment failed: ${await text(page.getByTestId('gallery-error')).catch(() => '')}`);
        if (Date.now() > deadline) throw new Error(`gallery still "${status}"`);
        await sleep(200);
      }
    });

    await step('gallery page: model, privacy, calibrated threshold', async () => {
      const model = await text(page.getByTestId('gallery-model'));
      const privacy = await text(page.getByTestId('gallery-privacy'));
      if (!model.startsWith(MODEL_NAME)) throw new Error(`model shown as "${model}"`);
      if (!/ε \d/.test(privacy) || !privacy.includes('DP unit')) throw new Error(`privacy shown as "${privacy}"`);
      await page.getByTestId('calibration').waitFor();
      const fpir = await text(page.getByTestId('calibration-fpir'));
      if (!fpir.includes('impostor pairs')) throw new Error(`calibration shows "${fpir}"`);
      await shot('model-gallery.png');
      return `${model}; ${privacy}; FPIR ${fpir}; threshold ${await text(page.getByTestId('gallery-threshold'))}`;
    });

    const probe = rows[1];
    await step(`search ${probe.file} with the model: ${probe.identity} first`, async () => {
      await page.getByRole('link', { name: 'Search this gallery' }).click();
      await page.waitForURL(`${BASE}/search?gallery=${galleryId}`);
      await page.waitForFunction((id) => document.querySelector('select')?.value === String(id), galleryId);
      await page.getByLabel('Photo', { exact: true }).setInputFiles(path.join(FACES, probe.file));
      const [response] = await Promise.all([
        page.waitForResponse((r) => /^\/api\/galleries\/\d+\/search\/$/.test(apiPath(r)), { timeout: 120_000 }),
        page.getByRole('button', { name: 'Search', exact: true }).click(),
      ]);
      if (response.status() !== 200) throw new Error(`search returned ${response.status()}: ${await response.text()}`);
      const best = page.getByTestId('match-0');
      await best.waitFor();
      const identity = await text(best.getByTestId('match-identity'));
      if (identity !== probe.identity) throw new Error(`first match is "${identity}", expected ${probe.identity}`);
      const model = await text(page.getByTestId('result-model'));
      if (!model.includes(MODEL_NAME) || !/ε \d/.test(model)) throw new Error(`the result shows "${model}"`);
      await shot('model-search.png');
      return `${identity} ${await text(best.getByTestId('match-score'))}; ${model}`;
    });
  },
});
