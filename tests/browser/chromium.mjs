// Shared helpers for the browser tests (node --test *.test.mjs).
// Chromium is Debian's /usr/bin/chromium (override: RENTAL_WIFI_CHROMIUM), driven by
// playwright-core; accessibility checks use axe-core injected into the page.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const CHROMIUM_PATH = process.env.RENTAL_WIFI_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** Launch headless Chromium. Close it with `await browser.close()`. */
export function launchChromium(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    timeout: 60_000,
    ...options,
  });
}

/**
 * Run axe-core on the current page; resolves to axe's result object
 * (`violations`, `passes`, ...). `options` go to axe.run (e.g. runOnly).
 */
export async function runAxe(page, options = {}) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate((opts) => window.axe.run(document, opts), options);
}

/** One line per violation, for assertion messages. */
export function formatViolations(violations) {
  return violations
    .map((v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
    .join('\n');
}
