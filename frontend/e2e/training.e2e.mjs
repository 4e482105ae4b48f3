// End-to-end check of the Training, job, Models and dataset-ledger pages against a running
// PrivFace server (Django + Celery worker), using the system Chromium through playwright-core:
// a tiny DP-SGD run on a ready dataset (live ε estimate, live charts), its model card and the
// dataset's privacy ledger.
//
//   PRIVFACE_URL=http://127.0.0.1:8767 PRIVFACE_USER=e2e PRIVFACE_PASSWORD=secret \
//   PRIVFACE_DATASET_ID=3 SCREENSHOT_DIR=/tmp/shots node frontend/e2e/training.e2e.mjs
//
// PRIVFACE_DATASET_ID is a READY dataset (webface_tiny: 80 images of 10 identities). The run
// trains on the CPU when there is no GPU: mobilefacenet, 64-d embedding, 56 px, 1 epoch.
// Prints one line per step; exits non-zero (after saving failure.png) on failure.
import { BASE, apiPath, logIn, page, runE2E, shot, step, text } from './harness.mjs';
import { epsilonIn, epsilonOf, estimateText, followJob, pickDataset } from './runSteps.mjs';

const DATASET_ID = process.env.PRIVFACE_DATASET_ID;
const TRAIN_TIMEOUT_MS = 240 * 1000;
const OVERALL_TIMEOUT_MS = TRAIN_TIMEOUT_MS + 3 * 60 * 1000;
const RUN_NAME = `e2e dp run ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`;

/** The training estimate starts with ε (no noise multiplier in front in noise mode). */
const nextEstimate = (previous) => estimateText(previous, { shape: /^ε = \d/ });

await runE2E('training', {
  timeoutMs: OVERALL_TIMEOUT_MS,
  viewport: { width: 1280, height: 900 },
  setup: async () => {
    if (!DATASET_ID || !/^\d+$/.test(DATASET_ID)) throw new Error('PRIVFACE_DATASET_ID must be set to the id of a READY dataset');
  },
  steps: async () => {
    await step('log in', async () => {
      await logIn();
    });

    let datasetName = '';
    await step(`open Training, pick dataset #${DATASET_ID}, set a tiny run`, async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Training' }).click();
      await page.waitForURL(`${BASE}/training`);
      datasetName = (await pickDataset(DATASET_ID)).split(' — ')[0].trim();
      await page.getByLabel('Name', { exact: true }).fill(RUN_NAME);
      await page.getByLabel('Model', { exact: true }).selectOption('mobilefacenet');
      await page.getByLabel('Embedding size', { exact: true }).fill('64');
      await page.getByLabel('Epochs', { exact: true }).fill('1');
      await page.getByLabel('Batch size', { exact: true }).fill('16');
      await page.getByText('Advanced', { exact: true }).click();
      await page.getByLabel('Image size', { exact: true }).fill('56');
      return `"${RUN_NAME}" on ${datasetName}`;
    });

    let estimateAt1 = '';
    let estimateAt2 = '';
    await step('DP on, noise multiplier 1.0: the ε estimate appears; 2.0: it changes', async () => {
      await page.getByLabel('Train with differential privacy (DP-SGD)').check();
      await page.getByLabel('noise multiplier', { exact: true }).check();
      await page.getByLabel('Noise multiplier', { exact: true }).fill('1.0');
      estimateAt1 = await nextEstimate();
      await shot('training-form.png');
      await page.getByLabel('Noise multiplier', { exact: true }).fill('2.0');
      estimateAt2 = await nextEstimate(estimateAt1);
      const e1 = epsilonIn(estimateAt1);
      const e2 = epsilonIn(estimateAt2);
      if (!(e2 < e1)) throw new Error(`more noise should mean a smaller ε: "${estimateAt1}" then "${estimateAt2}"`);
      return `"${estimateAt1}" → "${estimateAt2}"`;
    });

    let jobId;
    await step('start training: on to the job page', async () => {
      const [response] = await Promise.all([
        page.waitForResponse((r) => apiPath(r) === '/api/training/' && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Start training' }).click(),
      ]);
      if (response.status() !== 202) throw new Error(`POST /api/training/ returned ${response.status()}: ${await response.text()}`);
      jobId = (await response.json()).id;
      await page.waitForURL(`${BASE}/jobs/${jobId}`);
      await page.getByRole('region', { name: 'Training' }).waitFor();
      return `job #${jobId}`;
    });

    let epsilon = NaN;
    await step(`job page: loss chart gets points, ε appears, status succeeded (≤ ${TRAIN_TIMEOUT_MS / 1000} s)`, async () => {
      const lossCounts = new Set();
      let epsilonSeenWhileRunning = false;
      await followJob('train', TRAIN_TIMEOUT_MS, async (status) => {
        const count = Number(await page.getByTestId('chart-loss-step').getAttribute('data-count'));
        if (count) lossCounts.add(count);
        const eps = await text(page.getByTestId('current-epsilon'));
        if (status === 'running' && Number.isFinite(epsilonOf(eps))) epsilonSeenWhileRunning = true;
      });
      await page.getByTestId('model-link').waitFor();
      const points = Number(await page.getByTestId('chart-loss-step').getAttribute('data-count'));
      const epochPoints = await page.getByTestId('chart-loss-epoch').getAttribute('data-count');
      const epsilonPoints = await page.getByTestId('chart-epsilon-epsilon').locator('circle').count();
      if (!(points > 0)) throw new Error('the loss chart has no points');
      if (epsilonPoints < 1) throw new Error('the ε chart has no point');
      epsilon = epsilonOf(await text(page.getByTestId('current-epsilon')));
      if (!Number.isFinite(epsilon)) throw new Error(`current ε shows "${await text(page.getByTestId('current-epsilon'))}"`);
      await shot('training.png');
      const growth = [...lossCounts].join(' → ') || 'none while running';
      return `loss points ${growth} (final ${points}, ${epochPoints} per-epoch); ε = ${epsilon}${
        epsilonSeenWhileRunning ? ' (seen while running)' : ''
      }; ${await text(page.getByTestId('training-result'))}`;
    });

    let modelId;
    await step('Models: the new model is listed with its ε; open its card', async () => {
      const href = await page.getByTestId('model-link').getAttribute('href');
      modelId = Number(href.split('/').pop());
      await page.getByRole('navigation').getByRole('link', { name: 'Models' }).click();
      await page.waitForURL(`${BASE}/models`);
      const row = page.getByTestId(`model-row-${modelId}`);
      await row.waitFor();
      const badge = await text(row.getByTestId('private-badge'));
      const shown = epsilonOf(await text(row.getByTestId('model-epsilon')));
      if (badge !== 'private') throw new Error(`model #${modelId} is badged "${badge}"`);
      if (shown !== epsilon) throw new Error(`model #${modelId} shows ε = ${shown}, the job said ${epsilon}`);
      await row.getByRole('link', { name: RUN_NAME }).click();
      await page.waitForURL(`${BASE}/models/${modelId}`);
      await page.getByTestId('model-card').waitFor();
      const dp = page.getByRole('region', { name: 'Differential privacy' });
      await dp.waitFor();
      const cardEpsilon = epsilonOf(await text(page.getByTestId('model-epsilon')));
      if (cardEpsilon !== epsilon) throw new Error(`the model page shows ε = ${cardEpsilon}, the job said ${epsilon}`);
      const download = await page.getByRole('link', { name: 'Download (.zip)' }).getAttribute('href');
      if (download !== `/api/models/${modelId}/download/`) throw new Error(`download link is ${download}`);
      const sections = await page.locator('[data-testid="model-card"] section h2').allTextContents();
      await shot('model.png');
      return `model #${modelId}, ε = ${cardEpsilon}; card sections: ${sections.map((s) => s.trim()).join(', ')}`;
    });

    await step(`dataset page: the privacy ledger lists the run with ε = ${epsilon}`, async () => {
      await page.goto(`${BASE}/datasets/${DATASET_ID}`);
      const ledger = page.getByRole('region', { name: 'Privacy ledger' });
      await ledger.waitFor();
      const row = ledger.locator('tr', { has: page.getByRole('link', { name: `job #${jobId}`, exact: true }) });
      await row.waitFor();
      const shown = epsilonOf(await text(row.getByTestId('ledger-epsilon')));
      if (shown !== epsilon) throw new Error(`the ledger entry shows ε = ${shown}, the job said ${epsilon}`);
      if (!(await row.getByRole('link', { name: `model #${modelId}`, exact: true }).count())) {
        throw new Error(`the ledger entry does not link model #${modelId}`);
      }
      const total = await text(ledger.getByTestId('ledger-total-epsilon'));
      if (!(epsilonOf(total) >= epsilon)) throw new Error(`the ledger total ε = ${total} is below this run's ${epsilon}`);
      await row.scrollIntoViewIfNeeded();
      await shot('ledger.png');
      const entries = await ledger.locator('tbody tr').count();
      return `total ε = ${total} over ${entries} run(s)`;
    });
  },
});
