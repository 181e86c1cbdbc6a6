// The guest's pages after login as the real sidecar serves them (issue 17), in Chromium at
// phone width (node --test).
//
// Starts `rental-wifi-sidecar demo`, gives its unit a welcome, terms, an accent colour and a
// logo through the local API, then as a phone: the login page with the terms folded in it,
// the success page with the welcome and the logo, the status page, "disconnect this device",
// and the status page again for a device that is no longer online. On every page:
//   * axe-core reports 0 WCAG 2 A/AA violations (scripts injected with the CSP bypassed);
//   * with JavaScript off and the page's own CSP in force, everything the page loads comes
//     from the portal's origin, nothing is blocked (the logo is allowed, as 'self'), and the
//     forms work by plain posts.
// And a bad upload (an SVG as the logo) is refused with the field named, changing nothing.
//
// Binary: $RENTAL_WIFI_SIDECAR_BIN, default <repo>/target/debug/rental-wifi-sidecar.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { launchChromium, runAxe, formatViolations } from './chromium.mjs';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SIDECAR_BIN = process.env.RENTAL_WIFI_SIDECAR_BIN || join(REPO, 'target', 'debug', 'rental-wifi-sidecar');
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const STEP_TIMEOUT_MS = 20_000;

let demo; // { child, dataDir, info }
let browser;

function startDemo() {
  assert.ok(existsSync(SIDECAR_BIN), `sidecar binary not found at ${SIDECAR_BIN}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'rw-guest-portal-test-'));
  const child = spawn(
    SIDECAR_BIN,
    ['demo', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0', '--portal-listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const output = [];
  createInterface({ input: child.stderr }).on('line', (l) => output.push(l));
  demo = { child, dataDir, info: null };
  return new Promise((resolveInfo, reject) => {
    const timer = setTimeout(() => reject(new Error(`no demo-json line\n${output.join('\n')}`)), 90_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('demo-json: ')) return;
      clearTimeout(timer);
      resolveInfo(JSON.parse(line.slice('demo-json: '.length)));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited early (${code})\n${output.join('\n')}`));
    });
  });
}

process.on('exit', () => {
  if (demo && demo.child.exitCode === null) demo.child.kill('SIGKILL');
});

/** A small PNG (grey, 8-bit), made here. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.alloc((width + 1) * height, 0x50);
  for (let y = 0; y < height; y++) rows[y * (width + 1)] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

async function api(method, path, body, contentType = 'application/json') {
  const { api_url, api_token } = demo.info;
  const res = await fetch(new URL(path, api_url), {
    method,
    headers: { Authorization: `Bearer ${api_token}`, 'Content-Type': contentType },
    body: body === undefined ? undefined : contentType === 'application/json' ? JSON.stringify(body) : body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  const info = await startDemo();
  demo.info = info;
  browser = await launchChromium();
}, { timeout: 120_000 });

after(async () => {
  try {
    if (browser) await browser.close();
  } finally {
    if (demo) {
      const exited = new Promise((r) => demo.child.once('exit', r));
      demo.child.kill('SIGTERM');
      const timer = setTimeout(() => demo.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      rmSync(demo.dataDir, { recursive: true, force: true });
    }
  }
});

async function assertAccessible(page, what) {
  const results = await runAxe(page, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
  assert.ok(results.passes.length > 0, `axe-core ran no rules on ${what}`);
  assert.equal(results.violations.length, 0, `${what}:\n${formatViolations(results.violations)}`);
}

test('a unit refuses an SVG logo and keeps what it had', async () => {
  const { unit_id } = demo.info;
  const before = await api('GET', `/api/v1/units/${unit_id}`);
  const r = await api('PUT', `/api/v1/units/${unit_id}/logo`, '<svg xmlns="http://www.w3.org/2000/svg"/>', 'image/svg+xml');
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.field, 'logo');
  assert.deepEqual((await api('GET', `/api/v1/units/${unit_id}`)).body, before.body);
});

test('phone: terms in the page, welcome and logo, status, disconnect — accessible, self-contained, no JavaScript', async () => {
  const { unit_id, portal_url, voucher_code } = demo.info;
  const origin = new URL(portal_url).origin;
  let r = await api('PATCH', `/api/v1/units/${unit_id}`, {
    welcome_title: 'Welcome to the Beach House',
    welcome_text: 'Towels are in the **hall cupboard**.\n\n- Bins: Tuesday\n- [Bakery](https://example.com/bakery)',
    checkout_time: '10:30',
    host_contact: 'Anna, +49 170 1234567',
    accent_color: '#7a1f5c',
    terms_text: 'By using this Wi-Fi you agree to:\n\n- No illegal downloads.\n- Quiet after **22:00**.',
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  r = await api('PUT', `/api/v1/units/${unit_id}/logo`, png(96, 32), 'image/png');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const logoUrl = `${origin}${r.body.logo_url}`;

  // Scripts off, the pages' own CSP in force: what a phone's captive sheet may be.
  const plain = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  // axe needs a script: the same pages with the CSP bypassed.
  const axe = await browser.newContext({ ...PHONE, bypassCSP: true });
  try {
    const page = await plain.newPage();
    page.setDefaultTimeout(STEP_TIMEOUT_MS);
    const requests = [];
    const failed = [];
    const complaints = [];
    page.on('request', (q) => requests.push(q.url()));
    page.on('requestfailed', (q) => failed.push(q.url()));
    page.on('console', (m) => /Content Security Policy|Refused/i.test(m.text()) && complaints.push(m.text()));
    const checkAxe = async (url, what) => {
      const p = await axe.newPage();
      await p.goto(url);
      await assertAccessible(p, what);
      await p.close();
    };

    // 1. Login: the terms folded in the page, the box required.
    await page.goto(portal_url);
    const details = page.locator('details');
    assert.equal(await details.count(), 1, 'terms in the page');
    assert.equal(await page.locator('input[name="accept_terms"]').getAttribute('required'), '');
    await checkAxe(portal_url, 'the login page with terms');
    await details.locator('summary').tap();
    assert.equal(await details.locator('li').first().isVisible(), true, 'terms open without scripts');
    await page.getByLabel('Access code').fill(voucher_code);
    await page.locator('input[name="accept_terms"]').check();
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/portal' && !u.search),
      page.locator('form[action="/portal"] button[type="submit"]').tap(),
    ]);
    await page.waitForLoadState('load');

    // 2. Success: the welcome with the logo (loaded from the portal itself), a status link.
    assert.equal(await page.locator('body').getAttribute('data-result'), 'success');
    assert.equal(await page.getByRole('heading', { name: 'Welcome to the Beach House' }).count(), 1);
    const logo = page.locator('img.logo');
    assert.equal(await logo.count(), 1);
    assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth === 96), 'the logo loaded under the CSP');
    assert.ok(requests.includes(logoUrl), `the logo was asked for: ${requests.join(', ')}`);
    assert.equal(await page.locator('a[href="/portal/status"]').count(), 1);

    // 3. Status: time left, devices, contact, check-out, the disconnect button.
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/portal/status'),
      page.locator('a[href="/portal/status"]').tap(),
    ]);
    await page.waitForLoadState('load');
    assert.equal(await page.locator('body').getAttribute('data-result'), 'status');
    const text = await page.locator('main').innerText();
    for (const want of ['Time left', '1 of', 'Anna, +49 170 1234567', '10:30', 'UTC']) {
      assert.ok(text.includes(want), `status page lacks "${want}": ${text}`);
    }
    await checkAxe(`${origin}/portal/status`, 'the status page');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
    assert.ok(overflow, 'the status page fits the phone');

    // 4. Disconnect: a plain form post.
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/portal/disconnect'),
      page.locator('form[action="/portal/disconnect"] button[type="submit"]').tap(),
    ]);
    await page.waitForLoadState('load');
    assert.equal(await page.locator('body').getAttribute('data-result'), 'disconnected');
    const grants = await api('GET', '/api/v1/grants?active=true');
    assert.equal(grants.body.grants.length, 0, 'the grant ended');

    // 5. The status page again: not online, and how to get back in.
    await page.goto(`${origin}/portal/status`);
    assert.equal(await page.locator('body').getAttribute('data-result'), 'offline');
    await checkAxe(`${origin}/portal/status`, 'the offline status page');

    // Nothing from outside the portal's origin, nothing blocked, no CSP complaints.
    const outside = requests.filter((u) => new URL(u).origin !== origin);
    assert.deepEqual(outside, [], 'requests outside the portal');
    assert.deepEqual(failed, [], 'failed requests');
    assert.deepEqual(complaints, [], 'CSP complaints');
  } finally {
    await plain.close();
    await axe.close();
  }
});
