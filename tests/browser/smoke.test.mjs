// Smoke test of the browser-test stack itself: Chromium starts, a page renders, axe-core runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, runAxe, formatViolations } from './chromium.mjs';

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Smoke</title></head>
<body><main>
  <h1>Join the Wi-Fi</h1>
  <form>
    <label for="code">Access code</label>
    <input id="code" name="code" type="text" autocomplete="one-time-code">
    <button type="submit">Connect</button>
  </form>
</main></body>
</html>`;

test('chromium + axe-core: an accessible page has no violations', async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto('data:text/html;charset=utf-8,' + encodeURIComponent(PAGE));
    assert.equal(await page.getByLabel('Access code').count(), 1);
    const results = await runAxe(page);
    assert.ok(results.passes.length > 0, 'axe-core ran no rules');
    assert.equal(results.violations.length, 0, formatViolations(results.violations));
  } finally {
    await browser.close();
  }
});

test('axe-core reports an unlabelled input (the check is live)', async () => {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.setContent('<!doctype html><html lang="en"><head><title>x</title></head><body><main><input type="text"></main></body></html>');
    const results = await runAxe(page, { runOnly: ['label'] });
    assert.deepEqual(results.violations.map((v) => v.id), ['label']);
  } finally {
    await browser.close();
  }
});
