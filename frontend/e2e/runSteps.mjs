// Steps the training and federated e2e scripts take alike: choose the dataset on a run form,
// wait for a fresh ε estimate, and follow the job page until the job succeeded.
import { page, sleep, text } from './harness.mjs';

/** The number in an ε text ("2.31"), NaN for "—" / "∞". */
export const epsilonOf = (s) => (s && /^\d+(\.\d+)?$/.test(s) ? Number(s) : NaN);

/** The ε of an estimate text ("ε = 2.31 at δ = …"). */
export const epsilonIn = (s) => Number(/ε = ([\d.]+)/.exec(s)?.[1]);

/** Choose dataset `id` on the run form; returns the option's text. */
export async function pickDataset(id) {
  const select = page.getByLabel('Dataset', { exact: true });
  await select.waitFor();
  const options = await select.locator('option').evaluateAll((els) => els.map((o) => o.value));
  if (!options.includes(id)) {
    throw new Error(`dataset #${id} is not offered (ready datasets: ${options.join(', ') || 'none'})`);
  }
  await select.selectOption(id);
  return (await select.locator(`option[value="${id}"]`).textContent()).trim();
}

/** Wait until the estimate box shows an ε (matching `shape`) different from `previous`; returns the text. */
export async function estimateText(previous, { timeoutMs = 15_000, shape = /ε = \d/ } = {}) {
  const box = page.getByTestId('epsilon-estimate');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const shown = (await box.count()) ? await text(box) : '';
    const stale = await page.locator('.estimate-stale').count();
    if (shown && shape.test(shown) && !stale && shown !== previous) return shown;
    const error = page.getByTestId('estimate-error');
    if (await error.count()) throw new Error(`the estimate shows an error: ${await text(error)}`);
    if (Date.now() > deadline) {
      throw new Error(`no new ε estimate after ${timeoutMs / 1000} s (shows "${shown}", before "${previous ?? ''}")`);
    }
    await sleep(100);
  }
}

/** Poll the job page until the job succeeded; `onTick(status)` runs on each look. A failed or
 *  cancelled job, or one still going after `timeoutMs`, throws with what the page says. */
export async function followJob(kind, timeoutMs, onTick = async () => {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await text(page.getByTestId('job-status'));
    await onTick(status);
    if (status === 'succeeded') return;
    if (status === 'failed' || status === 'cancelled') {
      const message = await text(page.locator('.job-message'));
      const error = await page.getByRole('alert').allTextContents().catch(() => []);
      throw new Error(`the ${kind} job ${status}: ${error.map((e) => e.trim()).join(' | ') || message}`);
    }
    if (Date.now() > deadline) throw new Error(`job still "${status}" after ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}
