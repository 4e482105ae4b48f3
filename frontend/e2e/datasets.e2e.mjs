// End-to-end check of the Datasets pages against a running PrivFace server (Django +
// Celery worker), using the system Chromium through playwright-core: resumable chunked
// upload across a page reload, extraction job, summary and thumbnails.
//
//   PRIVFACE_URL=http://127.0.0.1:8765 PRIVFACE_USER=e2e PRIVFACE_PASSWORD=secret \
//   FIXTURES_DIR=/path/to/webface_tiny SCREENSHOT_DIR=/tmp/shots node frontend/e2e/datasets.e2e.mjs
//
// FIXTURES_DIR holds train.rec, train.idx, train.lst and lfw_tiny.bin (80 images of 10 identities).
// Prints one line per step; exits non-zero (after saving failure.png) on failure.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { BASE, logIn, page, runE2E, shot, sleep, step } from './harness.mjs';

const FIXTURES = process.env.FIXTURES_DIR;
const CHUNK_SIZE = 32768;
const CHUNK_DELAY_MS = 150;
const FILE_NAMES = ['train.rec', 'train.idx', 'train.lst', 'lfw_tiny.bin'];
const EXPECTED = { images: '80', identities: '10' };

const fileRow = (name) => page.getByTestId(`file-row-${name}`);
const rowProgress = async (name) =>
  Number(await fileRow(name).getByRole('progressbar').getAttribute('aria-valuenow', { timeout: 5000 }));
const rowStatus = async (name) => (await fileRow(name).getByTestId('file-status').textContent())?.trim();

/** Error texts shown in the file rows, for failure messages. */
async function rowErrors() {
  const texts = await page.locator('.upload-row [role="alert"]').allTextContents().catch(() => []);
  return texts.length ? ` (errors shown: ${texts.map((t) => t.trim()).join(' | ')})` : '';
}

await runE2E('datasets', {
  setup: async () => {
    if (!FIXTURES) throw new Error('FIXTURES_DIR must be set (folder with train.rec, train.idx, train.lst, lfw_tiny.bin)');
    const files = FILE_NAMES.map((n) => path.join(FIXTURES, n));
    for (const f of files) if (!existsSync(f)) throw new Error(`fixture missing: ${f}`);
    return { files, recSize: statSync(files[0]).size };
  },
  steps: async ({ files, recSize }) => {
    // The page asks before leaving mid-upload (beforeunload); the test reloads on purpose.
    page.on('dialog', (dialog) => dialog.accept().catch(() => {}));

    // Every chunk PUT, in order: which file, which offset, before or after the reload.
    let phase = 'first';
    const chunkPuts = [];
    page.on('request', (req) => {
      const url = new URL(req.url());
      const m = url.pathname.match(/^\/api\/datasets\/(\d+)\/files\/(\d+)\/chunk\/$/);
      if (req.method() === 'PUT' && m) {
        chunkPuts.push({ phase, fileId: Number(m[2]), offset: Number(url.searchParams.get('offset')) });
      }
    });
    // Slow the chunks down so the reload lands mid-upload.
    await page.route(
      (url) => url.pathname.endsWith('/chunk/'),
      async (route) => {
        await sleep(CHUNK_DELAY_MS);
        await route.continue().catch(() => {}); // the page may have been reloaded meanwhile
      },
    );

    await step('log in', async () => {
      await logIn();
      await page.evaluate((size) => localStorage.setItem('privface.chunkSize', String(size)), CHUNK_SIZE);
      return `chunk size ${CHUNK_SIZE} bytes, ${CHUNK_DELAY_MS} ms delay per chunk`;
    });

    let datasetId;
    await step('create dataset "tiny"', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Datasets' }).click();
      await page.waitForURL(`${BASE}/datasets`);
      await page.getByLabel('Name', { exact: true }).fill('tiny');
      const [response] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname === '/api/datasets/' && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'New dataset' }).click(),
      ]);
      if (response.status() !== 201) throw new Error(`POST /api/datasets/ returned ${response.status()}: ${await response.text()}`);
      datasetId = (await response.json()).id;
      await page.waitForURL(`${BASE}/datasets/${datasetId}`);
      await page.getByRole('heading', { name: 'tiny' }).waitFor();
      await page.getByTestId('dropzone').waitFor();
      return `dataset #${datasetId}`;
    });

    await step('select the four files', async () => {
      await page.getByLabel('Choose files').setInputFiles(files);
      for (const name of FILE_NAMES) await fileRow(name).waitFor();
      return FILE_NAMES.join(', ');
    });

    let before;
    await step('train.rec uploads in chunks (progress between 10 and 60 %)', async () => {
      const handle = await page.waitForFunction(
        () => {
          const bar = document.querySelector('[data-testid="file-row-train.rec"] [role="progressbar"]');
          const v = Number(bar?.getAttribute('aria-valuenow'));
          return v > 10 && v < 60 ? v : false;
        },
        null,
        { timeout: 30_000, polling: 50 },
      );
      before = await handle.jsonValue();
      await shot('datasets-uploading.png');
      const bytes = await fileRow('train.rec').getByTestId('file-bytes').textContent();
      return `${before}% (${bytes?.trim()}), ${chunkPuts.length} chunks sent`;
    });

    let recId;
    await step('reload mid-upload: train.rec is shown as incomplete', async () => {
      phase = 'reloading';
      const [response] = await Promise.all([
        page.waitForResponse(
          (r) => new URL(r.url()).pathname === `/api/datasets/${datasetId}/` && r.request().method() === 'GET',
        ),
        page.reload(),
      ]);
      const dataset = await response.json();
      const rec = dataset.files.find((f) => f.filename === 'train.rec');
      if (!rec) throw new Error(`the server does not list train.rec: ${JSON.stringify(dataset.files)}`);
      if (rec.complete || rec.received === 0) throw new Error(`train.rec on the server: ${JSON.stringify(rec)}`);
      recId = rec.id;
      phase = 'after reload';
      await fileRow('train.rec').waitFor();
      const status = await rowStatus('train.rec');
      if (!/drop the file again/.test(status ?? '')) throw new Error(`train.rec row says "${status}"`);
      const pct = await rowProgress('train.rec');
      if (!(pct > 0 && pct < 100)) throw new Error(`train.rec shows ${pct}% after the reload`);
      return `"${status}" at ${pct}% (server has ${rec.received} of ${rec.size} bytes)`;
    });

    await step('select the same files again: train.rec resumes, not from 0', async () => {
      await page.getByLabel('Choose files').setInputFiles(files);
      const deadline = Date.now() + 30_000;
      let first;
      while (!(first = chunkPuts.find((p) => p.phase === 'after reload' && p.fileId === recId))) {
        if (Date.now() > deadline) throw new Error(`no chunk PUT for train.rec after the reload${await rowErrors()}`);
        await sleep(50);
      }
      if (!(first.offset > 0)) throw new Error(`first chunk after the reload starts at offset ${first.offset}: not resumed`);
      return `first PUT after reload at offset ${first.offset} of ${recSize}`;
    });

    await step('all files complete', async () => {
      const start = page.getByRole('button', { name: 'Start extraction' });
      const deadline = Date.now() + 90_000;
      while (!(await start.isEnabled())) {
        const errors = await rowErrors();
        if (errors) throw new Error(`upload failed${errors}`);
        if (Date.now() > deadline) {
          const states = await Promise.all(FILE_NAMES.map(async (n) => `${n}: ${await rowStatus(n)}`));
          throw new Error(`uploads did not finish: ${states.join(', ')}`);
        }
        await sleep(100);
      }
      for (const name of FILE_NAMES) {
        const status = await rowStatus(name);
        if (status !== 'uploaded') throw new Error(`${name} row says "${status}"`);
      }
      const restarted = chunkPuts.filter((p) => p.phase === 'after reload' && p.fileId === recId && p.offset === 0);
      if (restarted.length) throw new Error('train.rec was sent again from offset 0 after the reload');
      return `${chunkPuts.length} chunk PUTs in all`;
    });

    await step('start extraction: live progress, then ready', async () => {
      const [response] = await Promise.all([
        page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/finalize/')),
        page.getByRole('button', { name: 'Start extraction' }).click(),
      ]);
      if (response.status() !== 202) throw new Error(`finalize returned ${response.status()}: ${await response.text()}`);
      const job = await response.json();
      await page.getByRole('link', { name: `Job #${job.id}` }).waitFor();
      const seen = new Set();
      const deadline = Date.now() + 120_000;
      for (;;) {
        const status = (await page.getByTestId('dataset-status').textContent())?.trim();
        if (status === 'ready') break;
        if (status === 'failed') {
          const err = await page.getByTestId('dataset-error').textContent().catch(() => '');
          throw new Error(`extraction failed: ${err}`);
        }
        const bar = page.getByRole('progressbar', { name: 'Extraction progress' });
        if (await bar.count()) seen.add(Number(await bar.getAttribute('aria-valuenow').catch(() => NaN)));
        if (Date.now() > deadline) throw new Error(`dataset still "${status}" after 120 s`);
        await sleep(50);
      }
      return `job #${job.id}, extraction progress seen: ${[...seen].filter(Number.isFinite).join(' → ') || 'none'}`;
    });

    await step('summary: 80 images, 10 identities, thumbnails load', async () => {
      const images = (await page.getByTestId('dataset-images').textContent())?.trim();
      const identities = (await page.getByTestId('dataset-identities').textContent())?.trim();
      if (images !== EXPECTED.images || identities !== EXPECTED.identities) {
        throw new Error(`summary shows ${images} images, ${identities} identities; expected ${EXPECTED.images} and ${EXPECTED.identities}`);
      }
      await page.getByTestId('identity-histogram').waitFor();
      const thumb = page.getByRole('img', { name: /^identity \d+$/ }).first();
      await thumb.waitFor();
      await page.waitForFunction(
        () => [...document.querySelectorAll('img[alt^="identity "]')].some((img) => img.complete && img.naturalWidth > 0),
        null,
        { timeout: 15_000, polling: 100 },
      );
      const count = await page.getByRole('img', { name: /^identity \d+$/ }).count();
      const size = await thumb.evaluate((img) => `${img.naturalWidth}x${img.naturalHeight}`);
      await shot('dataset.png');
      return `${count} thumbnails, first ${size}`;
    });

    await step('datasets list shows it', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Datasets' }).click();
      await page.waitForURL(`${BASE}/datasets`);
      const row = page.getByTestId(`dataset-row-${datasetId}`);
      await row.waitFor();
      const status = (await row.getByTestId('dataset-status').textContent())?.trim();
      if (status !== 'ready') throw new Error(`list shows dataset #${datasetId} as "${status}"`);
      await shot('datasets.png');
    });
  },
});
