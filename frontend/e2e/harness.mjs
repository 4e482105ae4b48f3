// Shared harness of the Playwright e2e scripts (system Chromium through playwright-core):
// environment, one line per step with its timing, login and screenshot helpers, and the
// run that prints PASS/FAIL, saves failure.png and exits non-zero on failure or timeout.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = (process.env.PRIVFACE_URL || 'http://127.0.0.1:8000').replace(/\/+$/, '');
export const USER = process.env.PRIVFACE_USER;
export const PASSWORD = process.env.PRIVFACE_PASSWORD;
export const SHOTS = path.resolve(process.env.SCREENSHOT_DIR || 'e2e-screenshots');

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
/** The page under test (a live binding: set once the browser is up). */
export let page = null;
let currentStep = 'setup';

/** Run one step; prints `ok   <name> — <detail> (<seconds>)`. A throw fails the script at this step. */
export async function step(name, fn) {
  currentStep = name;
  const t = Date.now();
  const detail = await fn();
  console.log(`ok   ${name}${detail ? ` — ${detail}` : ''} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const shot = (name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
export const apiPath = (r) => new URL(r.url()).pathname;
export const text = async (locator) => (await locator.textContent())?.trim();

/** Log in through the login page and wait for the signed-in layout. */
export async function logIn() {
  await page.goto(`${BASE}/login`);
  await page.getByLabel('Username', { exact: true }).fill(USER);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

async function main({ viewport, setup, steps }) {
  if (!USER || !PASSWORD) throw new Error('PRIVFACE_USER and PRIVFACE_PASSWORD must be set');
  const prepared = setup ? await setup() : undefined;
  mkdirSync(SHOTS, { recursive: true });

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const pageErrors = [];
  try {
    const context = await browser.newContext({ viewport });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(String(err)));

    await steps(prepared);

    if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
  } catch (err) {
    if (pageErrors.length) console.error(`page errors: ${pageErrors.join(' | ')}`);
    if (page) {
      console.error(`page URL at failure: ${page.url()}`);
      const alerts = await page.getByRole('alert').allTextContents().catch(() => []);
      if (alerts.length) console.error(`messages shown on the page: ${alerts.map((a) => a.trim()).join(' | ')}`);
      await shot('failure.png').catch((e) => console.error(`could not save failure.png: ${e}`));
    }
    throw err;
  } finally {
    await browser.close();
  }
}

/**
 * Run an e2e script and exit: `setup()` (checks before the browser starts; its result is handed
 * to `steps`), then `steps()` on a fresh page. Prints `PASS <name> e2e (…)` and exits 0, or
 * `FAIL <step>: <message>` and exits 1 (also when `timeoutMs` runs out).
 */
export async function runE2E(name, { timeoutMs = 5 * 60 * 1000, viewport = { width: 1280, height: 860 }, setup, steps }) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL ${currentStep}: overall timeout (${timeoutMs / 1000}s) exceeded`);
    process.exit(1);
  }, timeoutMs);
  watchdog.unref();

  try {
    await main({ viewport, setup, steps });
    console.log(`PASS ${name} e2e (${elapsed()}), screenshots in ${SHOTS}`);
    process.exit(0);
  } catch (err) {
    console.error(`FAIL ${currentStep}: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}
