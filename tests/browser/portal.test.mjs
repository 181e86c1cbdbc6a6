// End-to-end test of the guest captive portal in a real browser (node --test).
//
// Starts `rental-wifi-sidecar demo` (simulated Omada controller, one unit, one voucher),
// then, as a phone would: opens the portal URL the demo prints, checks accessibility with
// axe-core (WCAG 2 A/AA), types a wrong code (error shown as role=alert), types the real
// code in lower case with a dash (normalisation), lands on the success page, and checks
// through the local API that exactly one active grant was recorded. A second browser
// context with a German Accept-Language must see the German page.
//
// Binary: $RENTAL_WIFI_SIDECAR_BIN, default <repo>/target/debug/rental-wifi-sidecar.
// Browser: $RENTAL_WIFI_CHROMIUM, default /usr/bin/chromium (Debian's), driven by playwright-core.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIDECAR_BIN = process.env.RENTAL_WIFI_SIDECAR_BIN || join(REPO, 'target', 'debug', 'rental-wifi-sidecar');
const CHROMIUM_PATH = process.env.RENTAL_WIFI_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];
const STARTUP_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 20_000;

// A phone. bypassCSP: the portal forbids all scripts; axe has to be injected anyway.
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  bypassCSP: true,
};

let demo; // { child, info, dataDir, output }
let browser;

/** Start the demo and resolve with the parsed `demo-json:` line. */
function startDemo() {
  assert.ok(
    existsSync(SIDECAR_BIN),
    `sidecar binary not found at ${SIDECAR_BIN}: run \`cargo build -p rental-wifi-sidecar\` or set RENTAL_WIFI_SIDECAR_BIN`,
  );
  const dataDir = mkdtempSync(join(tmpdir(), 'rw-portal-test-'));
  const child = spawn(
    SIDECAR_BIN,
    ['demo', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const output = []; // last lines of stdout+stderr, for failure messages
  const remember = (line) => {
    output.push(line);
    if (output.length > 200) output.shift();
  };
  createInterface({ input: child.stderr }).on('line', remember);
  const stdout = createInterface({ input: child.stdout });

  const info = new Promise((resolveInfo, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "demo-json: " line within ${STARTUP_TIMEOUT_MS} ms\n${output.join('\n')}`)),
      STARTUP_TIMEOUT_MS,
    );
    stdout.on('line', (line) => {
      remember(line);
      if (!line.startsWith('demo-json: ')) return;
      clearTimeout(timer);
      try {
        resolveInfo(JSON.parse(line.slice('demo-json: '.length)));
      } catch (err) {
        reject(new Error(`demo-json is not JSON: ${err.message}\n${line}`));
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited early (code ${code}, signal ${signal})\n${output.join('\n')}`));
    });
  });
  demo = { child, dataDir, output, info: null };
  return info;
}

/** Stop the demo: SIGTERM, then SIGKILL if it has not exited after 10 s. */
async function stopDemo() {
  if (!demo) return;
  const { child, dataDir } = demo;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
  demo = undefined;
}

// Whatever happens (an assertion, an uncaught error), never leave the sidecar running.
process.on('exit', () => {
  if (demo && demo.child.exitCode === null) demo.child.kill('SIGKILL');
});

async function runAxe(page) {
  await page.addScriptTag({ content: AXE_SOURCE });
  return page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }),
  );
}

async function assertNoAxeViolations(page, what) {
  const results = await runAxe(page);
  assert.ok(results.passes.length > 0, `axe-core ran no rules on ${what}`);
  const lines = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} -> ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );
  assert.equal(results.violations.length, 0, `axe violations on ${what}:\n${lines.join('\n')}`);
}

async function activeGrants() {
  const { api_url, api_token } = demo.info;
  const res = await fetch(new URL('/api/v1/grants?active=true', api_url), {
    headers: { Authorization: `Bearer ${api_token}` },
  });
  assert.equal(res.status, 200, `GET /api/v1/grants: ${res.status} ${await res.clone().text()}`);
  const body = await res.json();
  assert.ok(Array.isArray(body.grants), `unexpected grants body: ${JSON.stringify(body)}`);
  return body.grants;
}

/** The client MAC the portal URL carries, canonical (AA-BB-CC-DD-EE-FF). */
function clientMacOf(portalUrl) {
  const q = new URL(portalUrl).searchParams;
  const raw = q.get('clientMac') || q.get('client_mac') || q.get('cid');
  if (!raw) return null;
  const hex = raw.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  return hex.match(/../g).join('-');
}

/** The voucher as a guest might type it: lower case, with a dash in the middle. */
function sloppy(code) {
  const mid = Math.floor(code.length / 2);
  return `${code.slice(0, mid)}-${code.slice(mid)}`.toLowerCase();
}

/** Tick the terms checkbox when the unit asks for it. */
async function acceptTermsIfAsked(page) {
  const terms = page.locator('input[name="accept_terms"]');
  if ((await terms.count()) > 0) await terms.check();
}

before(async () => {
  const info = await startDemo();
  demo.info = info;
  for (const key of ['api_url', 'api_token', 'portal_url', 'voucher_code', 'unit_id']) {
    assert.ok(demo.info[key], `demo-json lacks "${key}": ${JSON.stringify(demo.info)}`);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
});

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    await stopDemo();
  }
});

test('phone: login page, wrong code, real code, grant recorded — accessible throughout', async () => {
  const { portal_url, voucher_code, unit_id } = demo.info;
  const context = await browser.newContext({ ...PHONE, locale: 'en-US' });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);

    // 1. The login page.
    const res = await page.goto(portal_url);
    assert.equal(res.status(), 200, `GET portal_url: ${res.status()}`);
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    const code = page.getByLabel('Access code');
    assert.equal(await code.count(), 1, 'the code input has a visible label "Access code"');
    assert.equal(await code.getAttribute('name'), 'code');
    assert.equal(await code.getAttribute('autocomplete'), 'one-time-code');
    assert.equal(await page.locator('form[method="post"][action="/portal"] input[type="hidden"][name="csrf"]').count(), 1);
    assert.equal(await page.locator('role=alert').count(), 0, 'no error before the first try');
    await assertNoAxeViolations(page, 'the login page');
    assert.equal((await activeGrants()).length, 0, 'no grant before redeeming');

    // 2. A wrong code, submitted from the keyboard.
    await code.fill('ZZZZ-2222-ZZ');
    await acceptTermsIfAsked(page);
    await code.press('Enter');
    const alert = page.getByRole('alert');
    await alert.waitFor({ state: 'visible' });
    await page.waitForLoadState('load');
    assert.match(await alert.innerText(), /not valid/i);
    const codeAfter = page.getByLabel('Access code');
    const describedBy = (await codeAfter.getAttribute('aria-describedby')) || '';
    const alertId = await alert.getAttribute('id');
    assert.ok(alertId && describedBy.split(/\s+/).includes(alertId), `input aria-describedby "${describedBy}" must name the alert "${alertId}"`);
    assert.equal(await codeAfter.getAttribute('aria-invalid'), 'true');
    await assertNoAxeViolations(page, 'the login page with an error');
    assert.equal((await activeGrants()).length, 0, 'a wrong code lets nobody in');

    // 3. The real code, typed sloppily, submitted with a tap.
    await codeAfter.fill(sloppy(voucher_code));
    await acceptTermsIfAsked(page);
    await page.locator('form[action="/portal"] button[type="submit"]').tap();
    await page.getByRole('heading', { name: /you're online/i }).waitFor({ state: 'visible' });
    await page.waitForLoadState('load');
    assert.equal(await page.locator('role=alert').count(), 0, 'no error on the success page');
    assert.equal(await page.locator('input[name="code"]').count(), 0, 'no code form on the success page');
    await assertNoAxeViolations(page, 'the success page');

    // 4. The store knows: exactly one active grant, for this device and this voucher.
    const grants = await activeGrants();
    assert.equal(grants.length, 1, `active grants: ${JSON.stringify(grants)}`);
    const [grant] = grants;
    assert.equal(grant.status, 'active');
    assert.equal(grant.unit_id, unit_id);
    assert.equal(grant.code, voucher_code.replace(/[\s-]/g, '').toUpperCase());
    const mac = clientMacOf(portal_url);
    if (mac) assert.equal(grant.client_mac, mac);
  } finally {
    await context.close();
  }
});

test('German Accept-Language gets the German page', async () => {
  const context = await browser.newContext({
    ...PHONE,
    locale: 'de-DE',
    extraHTTPHeaders: { 'Accept-Language': 'de-CH,de;q=0.9,en;q=0.5' },
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const res = await page.goto(demo.info.portal_url);
    assert.equal(res.status(), 200);
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.equal(await page.getByLabel('Zugangscode').count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Verbinden' }).count(), 1);
    assert.match(await page.locator('h1').innerText(), /^Willkommen/);
    await assertNoAxeViolations(page, 'the German login page');
  } finally {
    await context.close();
  }
});
