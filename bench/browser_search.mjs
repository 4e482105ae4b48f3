#!/usr/bin/env node
// Issue #13's browser benchmark: time from photo chosen to result of a private search on the
// Search page (headless Debian Chromium via playwright-core, the dashboard build served by a
// running PrivFace server + worker), split by stage, with the bytes sent and received.
//
//   node bench/browser_search.mjs --url http://127.0.0.1:8000 --user u --password p \
//     --gallery 10000=12 --gallery 100000=13 --photo ../shared/fixtures/faces/img27.jpg [--runs 3] [--json]
//
// Each --gallery is LABEL=ID (LABEL: what the figure is called, e.g. its template count). The
// galleries must have a private_search block (a trained model's portable gallery). Each
// gallery's page is opened once and searched --runs times: run 1 starts the page's worker
// (models downloaded on the very first run, else from Cache Storage; wasm compiled), later
// runs reuse its loaded models, as a person searching again does; every run makes fresh
// keys. `median_warm` is over the runs after the first. `--pause-ms N`: wait N ms between
// opening a gallery's page and its first search, as a person choosing a photo does (the page
// warms meanwhile); 0 (default) chooses it at once. Stage times come from
// the page (its worker's and its own performance.now()), `wall_ms` from this script (click to
// result shown). Sent = public context + query; received = scores + labels (models apart).
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, '..', 'frontend', 'package.json'));
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const opts = { url: process.env.PRIVFACE_URL || 'http://127.0.0.1:8000', user: process.env.PRIVFACE_USER,
    password: process.env.PRIVFACE_PASSWORD, galleries: [], photo: null, runs: 3, json: false, timeoutMs: 600_000,
    pauseMs: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--json') opts.json = true;
    else if (a === '--url') opts.url = next().replace(/\/+$/, '');
    else if (a === '--user') opts.user = next();
    else if (a === '--password') opts.password = next();
    else if (a === '--photo') opts.photo = path.resolve(next());
    else if (a === '--runs') opts.runs = Number(next());
    else if (a === '--pause-ms') opts.pauseMs = Number(next());
    else if (a === '--gallery') {
      const [label, id] = next().split('=');
      if (!label || !/^\d+$/.test(id ?? '')) throw new Error('--gallery takes LABEL=ID');
      opts.galleries.push({ label, id: Number(id) });
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.user || !opts.password || !opts.photo || !opts.galleries.length) {
    throw new Error('--user, --password, --photo and at least one --gallery are needed');
  }
  if (!Number.isInteger(opts.runs) || opts.runs < 1) throw new Error('--runs must be a whole number >= 1');
  if (!(opts.pauseMs >= 0)) throw new Error('--pause-ms must be >= 0');
  return opts;
}

async function openGallery(page, opts, gallery) {
  await page.goto(`${opts.url}/search?gallery=${gallery.id}`);
  const mode = page.getByLabel('Private search (your photo never leaves this browser)');
  await mode.waitFor();
  if (!(await mode.isChecked())) throw new Error(`gallery ${gallery.id}: private search is not offered`);
}

async function searchOnce(page, opts, gallery) {
  await page.getByLabel('Photo', { exact: true }).setInputFiles(opts.photo); // clears the last result
  const t = Date.now();
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const result = page.getByTestId('private-result');
  const error = page.getByTestId('search-error').getByRole('alert');
  await Promise.race([
    result.waitFor({ timeout: opts.timeoutMs }),
    error.waitFor({ timeout: opts.timeoutMs }).then(async () => {
      throw new Error(`gallery ${gallery.id}: ${await error.textContent()}`);
    }),
  ]);
  const wall = Date.now() - t;
  const num = async (locator, attr) => Number(await locator.getAttribute(attr));
  const stages = {};
  for (const dd of await result.locator('dd[data-stage]').all()) stages[await dd.getAttribute('data-stage')] = await num(dd, 'data-ms');
  const server = result.getByTestId('server-seconds');
  const bytes = {
    context: await num(result.getByTestId('context-bytes'), 'data-bytes'),
    query: await num(result.getByTestId('upload-bytes'), 'data-bytes'),
    scores: await num(result.getByTestId('response-bytes'), 'data-bytes'),
    labels: await num(result.getByTestId('labels-bytes'), 'data-bytes'),
  };
  return {
    wall_ms: wall,
    stages_ms: stages,
    server_scoring_ms: (await server.count()) ? await num(server, 'data-ms') : null,
    sent_bytes: bytes.context + bytes.query,
    received_bytes: bytes.scores + bytes.labels,
    bytes,
    models_cached: (await result.getByTestId('models-cached').getAttribute('data-cached')) === 'true',
    top: (await result.getByTestId('match-identity').first().textContent().catch(() => null))?.trim() ?? null,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'] });
  const report = { url: opts.url, photo: path.basename(opts.photo), runs: opts.runs, pause_ms: opts.pauseMs,
    chromium: browser.version(), galleries: [] };
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 1000 } })).newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${opts.url}/login`);
    await page.getByLabel('Username', { exact: true }).fill(opts.user);
    await page.getByLabel('Password', { exact: true }).fill(opts.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor();
    for (const gallery of opts.galleries) {
      const runs = [];
      await openGallery(page, opts, gallery);
      // A person picks the photo after the page opened (the page warms meanwhile: the
      // workers encode the gallery, its worker loads the models and makes the first keys).
      if (opts.pauseMs) await page.waitForTimeout(opts.pauseMs);
      for (let r = 0; r < opts.runs; r++) {
        const run = await searchOnce(page, opts, gallery);
        runs.push(run);
        if (!opts.json) {
          console.log(`${gallery.label} run ${r + 1}: ${run.wall_ms} ms, sent ${run.sent_bytes} B, received ${run.received_bytes} B, ` +
            `top ${run.top}; ${Object.entries(run.stages_ms).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}`);
        }
      }
      const pool = runs.length > 1 ? runs.slice(1) : runs;
      const stageNames = Object.keys(pool[0].stages_ms);
      report.galleries.push({
        label: gallery.label, id: gallery.id, runs,
        median_warm: {
          wall_ms: median(pool.map((x) => x.wall_ms)),
          stages_ms: Object.fromEntries(stageNames.map((s) => [s, median(pool.map((x) => x.stages_ms[s] ?? 0))])),
          server_scoring_ms: pool[0].server_scoring_ms === null ? null : median(pool.map((x) => x.server_scoring_ms)),
          sent_bytes: median(pool.map((x) => x.sent_bytes)),
          received_bytes: median(pool.map((x) => x.received_bytes)),
        },
      });
    }
  } finally {
    await browser.close();
  }
  if (opts.json) console.log(JSON.stringify(report));
}

main().catch((err) => {
  console.error(`browser_search: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
