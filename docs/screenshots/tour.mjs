// A host's tour of Rental Wi-Fi in Home Assistant's own web UI, with screenshots at desktop
// (1280 px) and phone (390 px) width into docs/screenshots/. Not part of tests/run: it needs
// a running Home Assistant 2026.2.3 with its frontend (how: docs/screenshots/README.md).
//
//   SIM_JSON=/tmp/ui-sim.json HA_USER=host HA_PASSWORD=... \
//     node docs/screenshots/tour.mjs        (from the repository root; uses tests/browser's
//                                            playwright-core and Debian's chromium)
//
// It goes through the managed set-up, adds a unit, adopts one made through the sidecar's
// API, issues a voucher, opens the action form, reloads the entry and reads the activity log,
// and prints what it checked (the texts it expected to see); it exits non-zero if one is
// missing.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '../../tests/browser/package.json'));
const { chromium } = require('playwright-core');

const B = process.env.HA_URL || 'http://127.0.0.1:8123';
const sim = JSON.parse(readFileSync(process.env.SIM_JSON || '/tmp/ui-sim.json', 'utf8'));
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };
const checks = [];

const browser = await chromium.launch({
  executablePath: process.env.RENTAL_WIFI_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-quic'],
});
const page = await browser.newPage({ viewport: DESKTOP });

async function settle(ms = 1500) { await page.waitForTimeout(ms); }

/** Screenshot at both widths (the open dialog stays open while the window is resized). */
async function shot(name) {
  await settle(800);
  await page.screenshot({ path: join(here, `${name}-desktop.png`) });
  await page.setViewportSize(PHONE);
  await settle(1200);
  await page.screenshot({ path: join(here, `${name}-phone.png`) });
  await page.setViewportSize(DESKTOP);
  await settle(800);
}

function visible(text) {
  return page.getByText(text, { exact: false }).filter({ visible: true }).first();
}

async function expectText(what, text) {
  const found = await visible(text).isVisible().catch(() => false);
  checks.push({ what, text, found });
  console.log(`${found ? 'ok  ' : 'MISS'} ${what}: "${text}"`);
  return found;
}

async function absent(what, text) {
  const found = await visible(text).isVisible().catch(() => false);
  checks.push({ what, text, found: !found });
  console.log(`${!found ? 'ok  ' : 'MISS'} ${what}: no "${text}"`);
}

async function fill(label, value) {
  const box = page.getByLabel(label, { exact: false }).first();
  await box.fill(String(value));
}

async function submit() {
  await page.getByRole('button', { name: /^(Submit|Next)$/ }).first().click();
  await settle(3000);
}

// --- log in ---------------------------------------------------------------------------
await page.goto(B + '/');
await settle(3000);
await page.fill('input[name="username"]', process.env.HA_USER || 'host');
await page.fill('input[name="password"]', process.env.HA_PASSWORD || 'host-pass-1');
await page.keyboard.press('Enter');
await settle(6000);

// --- set-up: managed --------------------------------------------------------------------
await page.goto(B + '/config/integrations/dashboard');
await settle(5000);
await page.getByText('Add integration').click();
await settle(2500);
await page.keyboard.type('Rental');
await settle(1500);
await page.getByText('Rental Wi-Fi', { exact: true }).first().click();
await settle(4000);
await expectText('first step explains the sidecar', 'The sidecar is the small Rental Wi-Fi service');
await expectText('first step, managed', 'Run Rental Wi-Fi on this Home Assistant (recommended)');
await expectText('first step, external', 'Connect to a sidecar running elsewhere');
await shot('01-setup-choice');
await page.getByText('Run Rental Wi-Fi on this Home Assistant').click();
await settle(2500);
await expectText('managed step says where the data goes', 'includes its data');
await shot('02-managed-portal-port');
const port = process.env.PORTAL_PORT;
if (port) await fill('Guest portal port', port);
await submit();
await expectText('controller menu', 'Set up the controller now');
await shot('03-controller-menu');
await page.getByText('Set up the controller now').click();
await settle(2500);
await expectText('login menu, hotspot', 'Hotspot operator account');
await expectText('login menu, Open API', 'Open API application');
await shot('04-controller-login');
await page.getByText('Hotspot operator account').click();
await settle(2500);
await absent('no "leave blank" at first set-up', 'Leave blank to keep');
await expectText('advanced options collapsed', 'Certificate and advanced options');
await absent('TLS fields hidden while collapsed', 'Pinned certificate SHA-256');
await shot('05-omada-hotspot');
await fill('Controller URL', sim.omada_url);
await fill('Hotspot operator username', sim.omada_username);
await fill('Hotspot operator password', sim.omada_password);
await page.getByText('Certificate and advanced options').click();
await settle(1500);
await expectText('advanced options open', 'Pinned certificate SHA-256');
await shot('06-omada-advanced');
// The simulated controller speaks plain HTTP: turn certificate verification off.
await page.getByRole('switch').first().click();
await submit();
await expectText('Plume menu', 'Set up Plume now');
await page.getByText('Set up Plume now').click();
await settle(2500);
await absent('Plume: no "leave blank" at first set-up', 'Leave blank to keep');
await shot('07-plume');
await fill('SSO URL', sim.plume_sso_url);
await fill('Authorization header', sim.plume_auth_header);
await fill('Partner ID', sim.plume_partner_id);
await fill('API base URL', sim.plume_api_base);
await submit();
await settle(4000);
await shot('08-created');
await page.keyboard.press('Escape');
await settle(1500);

// --- the integration's page: units -------------------------------------------------------
await page.goto(B + '/config/integrations/integration/rental_wifi');
await settle(5000);
await expectText('integration page offers units', 'Add rental unit');
await expectText('entry button says what it does (another property, another sidecar)', 'Add a property');
await shot('09-integration-page');
await page.getByText('Add rental unit').first().click();
await settle(3000);
await expectText('unit form explains the sidecar', 'sidecar (the Rental Wi-Fi service)');
await expectText('unit form: bookings section', 'Bookings');
await expectText('grace has a unit', 'min');
await shot('10-add-unit');
await fill('Name', 'Beach House');
await page.getByText('Networks (optional)').click();
await settle(800);
await page.getByText('Plume network health (optional)').click();
await settle(800);
const fine = sim.plume_locations.find((l) => l.scenario === 'fine');
await fill('Plume customer ID', fine.customer_id);
await fill('Plume location ID', fine.location_id);
await shot('11-add-unit-sections');
await submit();
await settle(2000);
await page.keyboard.press('Escape');
await settle(1000);

// The token of the entry, for Home Assistant's REST API (the page's own login).
const token = await page.evaluate(() => JSON.parse(localStorage.getItem('hassTokens')).access_token);
async function api(method, path, body) {
  const response = await fetch(B + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}
const entry = (await api('GET', '/api/config/config_entries/entry')).find((e) => e.domain === 'rental_wifi');
const diag = await api('GET', `/api/diagnostics/config_entry/${entry.entry_id}`);
const sidecarUrl = diag.data.managed_sidecar.api_url;
const sidecarToken = readFileSync(join(process.env.HA_CONFIG || '/tmp/ha-ui', 'rental_wifi', 'api_token'), 'utf8').trim();
// A unit made outside Home Assistant (a script, the API): adopted as a subentry.
await fetch(`${sidecarUrl}/api/v1/units`, {
  method: 'POST',
  headers: { Authorization: `Bearer ${sidecarToken}`, 'Content-Type': 'application/json' },
  body: JSON.stringify({ unit_id: 'garden-cabin', name: 'Garden Cabin' }),
});
await api('POST', '/api/services/homeassistant/update_entity', {
  entity_id: 'sensor.rental_wi_fi_sidecar_active_grants',
});
await settle(4000);
await page.goto(B + '/config/integrations/integration/rental_wifi');
await settle(5000);
await expectText('unit added in the form', 'Beach House');
await expectText('unit made through the API, adopted', 'Garden Cabin');
await shot('12-units-as-subentries');

// --- a voucher that starts at first use ------------------------------------------------
await api('POST', '/api/services/rental_wifi/create_voucher?return_response', {
  unit_id: 'beach-house', duration_minutes: 4320, guest_name: 'Ada',
});
await settle(3000);
await page.goto(B + '/config/entities?search=sensor.beach_house_voucher_end');
await settle(4000);
await page.getByText('Voucher end').first().click();
await settle(2500);
await shot('13-voucher-end-first-use');
// Home Assistant 2026.2 shows attributes under ⋮ → Attributes of the more-info dialog.
await page.locator('ha-more-info-dialog ha-icon-button, ha-dialog ha-icon-button').last().click().catch(() => {});
await settle(1000);
await page.getByText('Attributes', { exact: true }).first().click().catch(() => {});
await settle(2000);
await shot('14-voucher-end-attributes');
await expectText('voucher end explained', '3 days from first use');
await page.keyboard.press('Escape');

// --- the create_voucher action form --------------------------------------------------
await page.evaluate(() => {
  localStorage.setItem('panel-dev-action-state-service-data',
    JSON.stringify({ action: 'rental_wifi.create_voucher', data: {} }));
  localStorage.setItem('panel-dev-action-state-yaml-mode', 'false');
});
await page.goto(B + '/developer-tools/action');
await settle(5000);
await expectText('unit or device explained', 'Give this or the unit');
await expectText('rare fields collapsed', 'More options');
await shot('15-create-voucher-action');

// --- reload, then the activity log -------------------------------------------------------
await api('POST', `/api/config/config_entries/entry/${entry.entry_id}/reload`);
await settle(8000);
await page.goto(B + '/logbook?entity_id=sensor.beach_house_network_health,image.beach_house_voucher_card');
await settle(6000);
await shot('16-activity-after-reload');
await absent('activity log: health translated after the reload', 'changed to green');
await expectText('activity log: health translated', 'Operational');

console.log(JSON.stringify({ checked: checks.length, missing: checks.filter((c) => !c.found) }));
await browser.close();
process.exit(checks.every((c) => c.found) ? 0 : 1);
