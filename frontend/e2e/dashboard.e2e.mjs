// End-to-end check of the dashboard against a running PrivFace server
// (Django + Celery worker), using the system Chromium through playwright-core.
//
//   PRIVFACE_URL=http://127.0.0.1:8123 PRIVFACE_USER=alice PRIVFACE_PASSWORD=secret \
//   SCREENSHOT_DIR=/tmp/shots node frontend/e2e/dashboard.e2e.mjs
//
// Prints one line per step; exits non-zero (after saving failure.png) on failure.
import { BASE, PASSWORD, USER, page, runE2E, shot, sleep, step } from './harness.mjs';

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

const statusText = async () => (await page.getByTestId('job-status').textContent())?.trim();
const progressValue = async () =>
  Number(await page.getByRole('progressbar', { name: 'Job progress' }).getAttribute('aria-valuenow'));

/** Wait until the job page's status badge shows one of `wanted` (or any terminal status). */
async function waitForStatus(wanted, timeoutMs) {
  const handle = await page.waitForFunction(
    ({ wanted, terminal }) => {
      const s = document.querySelector('[data-testid="job-status"]')?.textContent?.trim();
      return s && (wanted.includes(s) || terminal.includes(s)) ? s : false;
    },
    { wanted, terminal: TERMINAL },
    { timeout: timeoutMs, polling: 100 },
  );
  const status = await handle.jsonValue();
  if (!wanted.includes(status)) {
    const err = await page.locator('.card [role="alert"]').allTextContents();
    throw new Error(`job ended as "${status}" instead of ${wanted.join('/')}${err.length ? `: ${err.join(' ')}` : ''}`);
  }
  return status;
}

/** Fill the start form, submit, and return the created job JSON from the API response. */
async function startSelfTest(steps, stepSeconds) {
  await page.getByLabel('Steps', { exact: true }).fill(String(steps));
  await page.getByLabel('Seconds per step', { exact: true }).fill(String(stepSeconds));
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/api/jobs/' && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Start self-test job' }).click(),
  ]);
  if (response.status() !== 201) {
    throw new Error(`POST /api/jobs/ returned ${response.status()}: ${await response.text()}`);
  }
  return response.json();
}

/** Click the job's row in the list and wait for its page (client-side navigation). */
async function openJob(id) {
  await page.getByTestId(`job-row-${id}`).click();
  await page.waitForURL(`${BASE}/jobs/${id}`);
  await page.getByRole('heading', { name: `Job #${id}` }).waitFor();
  await page.getByTestId('job-status').waitFor();
}

await runE2E('dashboard', {
  steps: async () => {
    await step('open / redirects to /login', async () => {
      await page.goto(`${BASE}/`);
      await page.waitForURL(`${BASE}/login`);
      await page.getByLabel('Username', { exact: true }).waitFor();
      await shot('login.png');
      return page.url();
    });

    await step('wrong password shows an error', async () => {
      await page.getByLabel('Username', { exact: true }).fill(USER);
      await page.getByLabel('Password', { exact: true }).fill(`${PASSWORD}-wrong`);
      await page.getByRole('button', { name: 'Log in' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent())?.trim();
      if (!text) throw new Error('error message is empty');
      if (!page.url().endsWith('/login')) throw new Error(`left the login page: ${page.url()}`);
      return `"${text}"`;
    });

    await step('log in', async () => {
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.waitForURL(`${BASE}/`);
      await page.getByRole('heading', { name: 'Overview' }).waitFor();
      await page.getByRole('button', { name: 'Log out' }).waitFor();
      await shot('overview.png');
    });

    await step('jobs page (staff: with the self-test form)', async () => {
      await page.getByRole('link', { name: 'Jobs', exact: true }).click();
      await page.waitForURL(`${BASE}/jobs`);
      await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    });

    let job;
    await step('start self-test job (20 steps x 0.3 s)', async () => {
      job = await startSelfTest(20, 0.3);
      await page.getByTestId(`job-row-${job.id}`).waitFor();
      return `job #${job.id}`;
    });

    await step('open the job page', async () => {
      await openJob(job.id);
      // Marker that a full page reload would wipe out.
      await page.evaluate(() => {
        window.__e2eNoReload = true;
      });
    });

    await step('progress bar advances live (websocket)', async () => {
      const seen = [await progressValue()];
      const deadline = Date.now() + 60_000;
      let increases = 0;
      while (increases < 2) {
        if (Date.now() > deadline) throw new Error(`progress did not advance twice; values seen: ${seen.join(', ')}`);
        const value = await progressValue();
        if (value > seen[seen.length - 1]) {
          increases += 1;
          seen.push(value);
        } else if (value < seen[seen.length - 1]) {
          seen.push(value);
        }
        if (increases < 2 && TERMINAL.includes(await statusText())) {
          throw new Error(`job finished before progress was seen advancing twice; values: ${seen.join(', ')}`);
        }
        await sleep(100);
      }
      return `values ${seen.join(' → ')}`;
    });

    await step('job succeeds', async () => {
      await waitForStatus(['succeeded'], 60_000);
      const noReload = await page.evaluate(() => window.__e2eNoReload === true);
      if (!noReload) throw new Error('the page was reloaded');
      const pct = await progressValue();
      await shot('job.png');
      return `progress ${pct}%`;
    });

    await step('back to the jobs list', async () => {
      await page.getByRole('navigation').getByRole('link', { name: 'Jobs' }).click();
      await page.waitForURL(`${BASE}/jobs`);
      const row = page.getByTestId(`job-row-${job.id}`);
      await row.waitFor();
      const status = (await row.getByTestId('job-status').textContent())?.trim();
      if (status !== 'succeeded') throw new Error(`list shows job #${job.id} as "${status}"`);
      await shot('jobs.png');
    });

    let longJob;
    await step('start self-test job (50 steps x 0.5 s) and open it', async () => {
      longJob = await startSelfTest(50, 0.5);
      await page.getByTestId(`job-row-${longJob.id}`).waitFor();
      await openJob(longJob.id);
      return `job #${longJob.id}`;
    });

    await step('job is running with progress > 0', async () => {
      await page.waitForFunction(
        () =>
          document.querySelector('[data-testid="job-status"]')?.textContent?.trim() === 'running' &&
          Number(document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow')) > 0,
        null,
        { timeout: 30_000, polling: 100 },
      );
      return `progress ${await progressValue()}%`;
    });

    await step('cancel the job', async () => {
      await page.getByRole('button', { name: 'Cancel', exact: true }).click();
      await waitForStatus(['cancelled'], 30_000);
      return `stopped at ${await progressValue()}%`;
    });

    await step('log out', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.waitForURL(`${BASE}/login`);
      await page.goto(`${BASE}/jobs`);
      await page.waitForURL(`${BASE}/login`);
      return 'session ended, /jobs redirects to /login';
    });
  },
});
