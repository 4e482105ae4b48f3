// End-to-end check of the federated form, the federated job page and the model card against a
// running PrivFace server (Django + Celery worker), using the system Chromium through
// playwright-core: a tiny client-level-DP federated run on a ready dataset (live ε estimate with
// what it protects, per-round charts and the clients table filling in), then its model card.
//
//   PRIVFACE_URL=http://127.0.0.1:8767 PRIVFACE_USER=e2e PRIVFACE_PASSWORD=secret \
//   PRIVFACE_DATASET_ID=3 SCREENSHOT_DIR=/tmp/shots node frontend/e2e/federated.e2e.mjs
//
// PRIVFACE_DATASET_ID is a READY dataset (webface_tiny: 80 images of 10 identities). The run is
// simulated on the CPU when there is no GPU: 3 clients, 2 rounds, mobilefacenet, 64-d, 56 px,
// batch 8, softmax head, Adam at 0.001. Prints one line per step; exits non-zero (after saving
// failure.png) on failure.
import { BASE, apiPath, logIn, page, runE2E, shot, step, text } from './harness.mjs';
import { epsilonIn, epsilonOf, estimateText, followJob, pickDataset } from './runSteps.mjs';

const DATASET_ID = process.env.PRIVFACE_DATASET_ID;
const RUN_TIMEOUT_MS = 480 * 1000;
const OVERALL_TIMEOUT_MS = RUN_TIMEOUT_MS + 3 * 60 * 1000;
const RUN_NAME = `e2e federated ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`;
const CLIENTS = 3;
const ROUNDS = 2;

/** The federated estimate asks for the clients' sizes too: it may take longer. */
const nextEstimate = (previous) => estimateText(previous, { timeoutMs: 30_000 });

const count = async (testId) => Number((await page.getByTestId(testId).getAttribute('data-count')) ?? 0);

await runE2E('federated', {
  timeoutMs: OVERALL_TIMEOUT_MS,
  viewport: { width: 1280, height: 900 },
  setup: async () => {
    if (!DATASET_ID || !/^\d+$/.test(DATASET_ID)) throw new Error('PRIVFACE_DATASET_ID must be set to the id of a READY dataset');
  },
  steps: async () => {
    await step('log in', async () => {
      await logIn();
    });

    await step(`Training → Federated, pick dataset #${DATASET_ID}, set a tiny run`, async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Training' }).click();
      await page.waitForURL(`${BASE}/training`);
      await page.getByRole('navigation', { name: 'Training mode' }).getByRole('link', { name: 'Federated' }).click();
      await page.waitForURL(`${BASE}/training/federated`);
      await page.getByRole('form', { name: 'New federated run' }).waitFor();
      await pickDataset(DATASET_ID);
      await page.getByLabel('Name', { exact: true }).fill(RUN_NAME);
      await page.getByLabel('Clients', { exact: true }).fill(String(CLIENTS));
      await page.getByLabel('Rounds', { exact: true }).fill(String(ROUNDS));
      await page.getByLabel('Partition', { exact: true }).selectOption('by_identity');
      await page.getByLabel('Head policy', { exact: true }).selectOption('private');
      await page.getByLabel('Model', { exact: true }).selectOption('mobilefacenet');
      await page.getByLabel('Head', { exact: true }).selectOption('softmax');
      await page.getByLabel('Embedding size', { exact: true }).fill('64');
      await page.getByLabel('Batch size', { exact: true }).fill('8');
      await page.getByLabel('Optimizer', { exact: true }).selectOption('adam');
      await page.getByLabel('Learning rate', { exact: true }).fill('0.001');
      await page.getByText('Advanced', { exact: true }).click();
      await page.getByLabel('Image size', { exact: true }).fill('56');
      await page.getByLabel('Seed', { exact: true }).fill('5');
      return `"${RUN_NAME}": ${CLIENTS} clients, ${ROUNDS} rounds`;
    });

    let estimate = '';
    await step('client-level DP: the ε estimate says it protects a client’s whole dataset; less noise, larger ε', async () => {
      await page.getByLabel('DP level', { exact: true }).selectOption('client');
      await page.getByLabel('noise multiplier', { exact: true }).check();
      await page.getByLabel('Noise multiplier', { exact: true }).fill('1.0');
      await page.getByLabel('Clipping norm', { exact: true }).fill('5.0');
      const at1 = await nextEstimate();
      const unit = await text(page.getByTestId('estimate-unit'));
      if (!/client's whole dataset/.test(unit)) throw new Error(`the estimate's unit is "${unit}"`);
      await page.getByLabel('Noise multiplier', { exact: true }).fill('0.5');
      estimate = await nextEstimate(at1);
      if (!(epsilonIn(estimate) > epsilonIn(at1))) throw new Error(`less noise should mean a larger ε: "${at1}" then "${estimate}"`);
      await page.getByTestId('epsilon-estimate').scrollIntoViewIfNeeded();
      await shot('federated-form.png');
      return `"${at1}" → "${estimate}"; ${unit}`;
    });

    let jobId;
    await step('start the federated run: on to the job page', async () => {
      const [response] = await Promise.all([
        page.waitForResponse((r) => apiPath(r) === '/api/federated/' && r.request().method() === 'POST'),
        page.getByRole('button', { name: 'Start federated run' }).click(),
      ]);
      if (response.status() !== 202) throw new Error(`POST /api/federated/ returned ${response.status()}: ${await response.text()}`);
      const job = await response.json();
      jobId = job.id;
      if (job.kind !== 'federated') throw new Error(`the job is a "${job.kind}" job`);
      await page.waitForURL(`${BASE}/jobs/${jobId}`);
      await page.getByRole('region', { name: 'Federated training' }).waitFor();
      return `job #${jobId}`;
    });

    let epsilon = NaN;
    await step(`job page: the round charts and the clients table fill in, status succeeded (≤ ${RUN_TIMEOUT_MS / 1000} s)`, async () => {
      const lossCounts = new Set();
      let roundShot = false;
      await followJob('federated', RUN_TIMEOUT_MS, async (status) => {
        const points = await count('chart-loss-loss');
        if (points) lossCounts.add(points);
        if (points >= 1 && !roundShot && status === 'running') {
          await page.getByTestId('client-table').waitFor();
          await shot('federated-round.png');
          roundShot = true;
        }
      });
      await page.getByTestId('model-link').waitFor();
      const panel = page.getByRole('region', { name: 'Federated training' });
      const loss = await count('chart-loss-loss');
      const accuracy = await count('chart-accuracy-train');
      const eps = await count('chart-epsilon-epsilon');
      const verification = await count('chart-verification-verification');
      if (loss !== ROUNDS) throw new Error(`the loss chart has ${loss} points, not ${ROUNDS}`);
      if (accuracy !== ROUNDS) throw new Error(`the accuracy chart has ${accuracy} points, not ${ROUNDS}`);
      if (eps !== ROUNDS) throw new Error(`the ε chart has ${eps} points, not ${ROUNDS}`);
      const round = await text(panel.getByTestId('current-round'));
      if (round !== `${ROUNDS} / ${ROUNDS}`) throw new Error(`the round shows "${round}"`);
      const table = panel.getByRole('table', { name: 'Clients' });
      const tableRound = await table.getAttribute('data-round');
      if (tableRound !== String(ROUNDS)) throw new Error(`the clients table shows round ${tableRound}`);
      const rows = table.locator('tbody tr');
      const n = await rows.count();
      if (n !== CLIENTS) throw new Error(`the clients table has ${n} rows, not ${CLIENTS}`);
      const statuses = await table.getByTestId('client-status').allTextContents();
      if (statuses.some((s) => s.trim() !== 'ok')) throw new Error(`client statuses: ${statuses.join(', ')}`);
      const losses = await table.getByTestId('client-loss').allTextContents();
      if (losses.some((l) => !/^\d+\.\d{3}$/.test(l.trim()))) throw new Error(`client losses: ${losses.join(', ')}`);
      epsilon = epsilonOf(await text(panel.getByTestId('current-epsilon')));
      if (!Number.isFinite(epsilon)) throw new Error(`current ε shows "${await text(panel.getByTestId('current-epsilon'))}"`);
      const unit = await text(panel.getByTestId('dp-unit'));
      await shot('federated.png');
      const growth = [...lossCounts].join(' → ') || 'none while running';
      return `loss points ${growth}; ${verification} verification point(s); ${n} client rows (losses ${losses.join(', ')}); ε = ${epsilon}, ${unit}; ${await text(page.getByTestId('training-result'))}`;
    });

    await step('model card: the federation section with one row per client', async () => {
      const link = page.getByTestId('model-link');
      const modelId = Number((await link.getAttribute('href')).split('/').pop());
      await link.click();
      await page.waitForURL(`${BASE}/models/${modelId}`);
      await page.getByTestId('model-card').waitFor();
      const fed = page.getByRole('region', { name: 'Federation' });
      await fed.waitFor();
      const clients = await fed.getByTestId('card-clients').locator('tbody tr').count();
      if (clients !== CLIENTS) throw new Error(`the card lists ${clients} clients, not ${CLIENTS}`);
      const policy = await text(fed.getByTestId('head-policy-explained'));
      const dp = page.getByRole('region', { name: 'Differential privacy' });
      const dpText = await text(dp);
      if (!/client's whole dataset/.test(dpText)) throw new Error(`the DP section does not say what ε protects: ${dpText}`);
      const cardEpsilon = epsilonOf(await text(page.getByTestId('model-epsilon')));
      if (cardEpsilon !== epsilon) throw new Error(`the model page shows ε = ${cardEpsilon}, the job said ${epsilon}`);
      await fed.scrollIntoViewIfNeeded();
      await shot('federated-model.png');
      return `model #${modelId}, ε = ${cardEpsilon}; ${clients} clients; head policy ${policy}`;
    });
  },
});
