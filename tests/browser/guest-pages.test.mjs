// The guest pages after login (status, welcome, terms, disconnected) in Chromium at phone
// width (node --test).
//
// The pages are the real render functions' output, written by the Rust test
// `cargo test -p rental-wifi-sidecar --test guest_pages` to <target>/tmp/guest-pages/ with a
// manifest (tests/run runs cargo test before this). For every page:
//   * axe-core reports 0 WCAG 2 A/AA violations, in the light and in the dark colour scheme;
//   * with JavaScript off and the page's own Content-Security-Policy in force, the page makes
//     no request but the document itself, nothing is blocked, nothing overflows a 390 px
//     phone screen sideways, and its forms and the collapsible terms work without scripts.
//
// Browser: $RENTAL_WIFI_CHROMIUM, default /usr/bin/chromium, driven by playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium, runAxe, formatViolations } from './chromium.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO, 'target');
const PAGES = join(TARGET, 'tmp', 'guest-pages');
const MANIFEST = join(PAGES, 'manifest.json');

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

let browser;
let manifest;

before(async () => {
  assert.ok(
    existsSync(MANIFEST),
    `${MANIFEST} is missing: run \`cargo test -p rental-wifi-sidecar --test guest_pages\` first (tests/run does)`,
  );
  manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  assert.ok(manifest.pages.length >= 10, `too few pages in ${MANIFEST}`);
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
});

const urlOf = (file) => pathToFileURL(join(PAGES, file)).href;

test('axe-core: no WCAG 2 A/AA violations at phone width, light and dark', async () => {
  for (const colorScheme of ['light', 'dark']) {
    // bypassCSP: the pages forbid every script, and axe has to be injected.
    const context = await browser.newContext({ ...PHONE, colorScheme, bypassCSP: true });
    try {
      const page = await context.newPage();
      for (const { file } of manifest.pages) {
        await page.goto(urlOf(file));
        const results = await runAxe(page, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
        assert.ok(results.passes.length > 0, `axe-core ran no rules on ${file}`);
        assert.equal(
          results.violations.length,
          0,
          `${file} (${colorScheme}):\n${formatViolations(results.violations)}`,
        );
      }
    } finally {
      await context.close();
    }
  }
});

test('no JavaScript, own CSP: self-contained, fits the phone, forms and terms work', async () => {
  const context = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  try {
    for (const { file, kind, lang } of manifest.pages) {
      const page = await context.newPage();
      const requests = [];
      const failed = [];
      const console = [];
      page.on('request', (r) => requests.push(r.url()));
      page.on('requestfailed', (r) => failed.push(r.url()));
      page.on('console', (m) => console.push(m.text()));
      const url = urlOf(file);
      await page.goto(url);
      await page.waitForLoadState('load');
      assert.deepEqual(requests, [url], `${file} loaded more than itself: ${requests.join(', ')}`);
      assert.deepEqual(failed, [], `${file}: failed requests`);
      assert.deepEqual(
        console.filter((t) => /Content Security Policy|Refused/i.test(t)),
        [],
        `${file}: CSP complaints`,
      );
      assert.equal(await page.getAttribute('html', 'lang'), lang, file);
      assert.equal(await page.locator('h1').count(), 1, `${file}: one heading`);

      // Nothing sticks out sideways on a 390 px screen (long names, words, links).
      const overflow = await page.locator('main').evaluate((main) => ({
        page: document.documentElement.scrollWidth,
        view: document.documentElement.clientWidth,
        widest: Math.max(...[...main.querySelectorAll('*')].map((el) => el.getBoundingClientRect().right)),
      }));
      assert.ok(overflow.page <= overflow.view, `${file}: page scrolls sideways (${JSON.stringify(overflow)})`);
      assert.ok(overflow.widest <= overflow.view + 0.5, `${file}: an element sticks out (${JSON.stringify(overflow)})`);

      if (kind === 'status') {
        const form = page.locator('form[method="post"][action="/portal/disconnect"]');
        assert.equal(await form.count(), 1, `${file}: disconnect form`);
        assert.equal(await form.locator('input[type="hidden"][name="csrf"]').count(), 1);
        assert.equal(await form.locator('button[type="submit"]').count(), 1);
        const box = await form.locator('button').boundingBox();
        assert.ok(box.height >= 44 && box.width >= 44, `${file}: the button is a comfortable target`);
        assert.equal(await page.locator('dl.status dt').count() >= 3, true);
      }
      if (kind === 'login-terms') {
        // The terms are there, folded; a tap on the summary opens them — no script involved.
        const details = page.locator('details');
        assert.equal(await details.count(), 1, `${file}: terms section`);
        assert.equal(await details.getAttribute('open'), null, `${file}: folded at first`);
        const item = details.locator('li').first();
        assert.equal(await item.isVisible(), false, `${file}: terms hidden while folded`);
        await details.locator('summary').tap();
        assert.notEqual(await details.getAttribute('open'), null, `${file}: opens on tap`);
        assert.equal(await item.isVisible(), true, `${file}: terms shown when open`);
        // The checkbox is required, so the browser itself stops a submit without it.
        const checkbox = page.locator('input[name="accept_terms"]');
        assert.equal(await checkbox.getAttribute('required'), '');
        assert.equal(await page.locator('form[method="post"][action="/portal"]').count(), 1);
        // And keyboard: the summary is reachable with Tab.
        await details.locator('summary').focus();
        assert.equal(await details.locator('summary').evaluate((el) => el === document.activeElement), true);
      }
      if (kind === 'success') {
        assert.equal(await page.locator('a[href="/portal/status"]').count(), 1, `${file}: status link`);
      }
      await page.close();
    }
  } finally {
    await context.close();
  }
});

test('the SVG card renders in the browser with every line', async () => {
  const context = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  try {
    const page = await context.newPage();
    await page.goto(urlOf('card.svg'));
    const texts = await page.locator('text').allTextContents();
    assert.deepEqual(texts.slice(0, 4), ['Chalet Zoë & Søren', 'Wi-Fi: Beach Guest', 'WI-FI CODE', 'K7MPQ2X9TA']);
    assert.match(texts[4], /^Valid from 2025-07-01 15:00$/, 'Berlin time on the card');
  } finally {
    await context.close();
  }
});
