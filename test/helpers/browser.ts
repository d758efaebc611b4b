/**
 * Real Chromium for the dashboard's browser tests: Debian's `chromium` package (installed by .ci/run), driven by
 * playwright-core, which downloads no browser. CHROMIUM_PATH overrides where it is looked for.
 *
 * Screenshots are compared with committed baselines (test/browser/baselines) by pixelmatch with a tolerance;
 * `UPDATE_BASELINES=1 npm test -- test/browser/…` rewrites them, and a missing baseline is written on first run.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import pixelmatch from 'pixelmatch';
import { PNG } from 'pngjs';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** Where Chromium is, or an error saying how to install it. */
export function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) return given;
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `the browser tests need Chromium: install Debian's package (apt-get install -y chromium) or set CHROMIUM_PATH; looked in ${CANDIDATES.join(', ')}`,
    );
  return found;
}

/**
 * Headless Chromium with the flags a closed, shared machine needs: no sandbox when root, no background networking
 * (its connections would be refused), no GPU.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--font-render-hinting=none',
    ],
  });
}

export const DESKTOP = { width: 1400, height: 1000 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** A page that records console errors, page errors and failed requests, to be asserted empty by the test. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  problems: string[];
}

export async function watchedPage(
  browser: Browser,
  viewport: { width: number; height: number } = DESKTOP,
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    // A status of 400 or more is reported by the response handler below (which knows a refused page from a broken one).
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A stream closed by navigation is not a failure.
    if (!r.url().includes('/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.request().isNavigationRequest()) problems.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return { page, context, problems };
}

/** True when the page scrolls sideways (its content is wider than the viewport). */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return page.evaluate<boolean>('document.documentElement.scrollWidth > document.documentElement.clientWidth + 1');
}

const BASELINES = path.resolve(import.meta.dirname, '../browser/baselines');

/** Share of pixels that may differ (anti-aliasing, font hinting) before a screenshot counts as changed. */
const TOLERANCE = 0.02;

/**
 * Compares a full-page screenshot with its baseline; returns the share of differing pixels, or throws saying how much
 * differs and where the actual picture was written. Parts that change from run to run (times, ids) are masked.
 */
export async function compareScreenshot(page: Page, name: string, mask: Locator[] = []): Promise<number> {
  const actual = await page.screenshot({ fullPage: true, animations: 'disabled', caret: 'hide', mask });
  const file = path.join(BASELINES, `${name}.png`);
  if (process.env.UPDATE_BASELINES === '1' || !existsSync(file)) {
    await mkdir(BASELINES, { recursive: true });
    await writeFile(file, actual);
    return 0;
  }
  const expected = PNG.sync.read(await readFile(file));
  const got = PNG.sync.read(actual);
  const actualFile = path.join(BASELINES, `${name}.actual.png`);
  if (expected.width !== got.width || Math.abs(expected.height - got.height) > expected.height * 0.1) {
    await writeFile(actualFile, actual);
    throw new Error(
      `screenshot ${name}: ${got.width}×${got.height}, baseline ${expected.width}×${expected.height} (actual written to ${actualFile})`,
    );
  }
  // Pages whose height moved a little are compared over the part both have.
  const width = expected.width;
  const height = Math.min(expected.height, got.height);
  const crop = (png: PNG) => {
    const out = new PNG({ width, height });
    PNG.bitblt(png, out, 0, 0, width, height, 0, 0);
    return out.data;
  };
  const diff = pixelmatch(crop(expected), crop(got), undefined, width, height, { threshold: 0.2 });
  const share = diff / (width * height);
  if (share > TOLERANCE) {
    await writeFile(actualFile, actual);
    throw new Error(
      `screenshot ${name}: ${(share * 100).toFixed(2)}% of pixels differ from the baseline (tolerance ${TOLERANCE * 100}%); actual written to ${actualFile}`,
    );
  }
  return share;
}
