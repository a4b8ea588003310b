// End to end: the web console in Debian's Chromium (headless, playwright-core) against a
// running `cdpctl serve`. Env: CDP_BASE_URL, CDP_KEY_DPO, CDP_KEY_AUDITOR, CDP_KEY_INGEST,
// CDP_ARTIFACTS (screenshots), CDP_WORK (downloads), CDP_PUBKEY (eu). Prints "ok N - name" /
// "not ok N - name" lines and exits non-zero on any failure.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.CDP_CLIENTS, 'package.json'));
const { chromium } = require('playwright-core');

const base = process.env.CDP_BASE_URL;
const artifacts = process.env.CDP_ARTIFACTS;
const work = process.env.CDP_WORK;
const EMAIL = 'erin@example.com';
let passed = 0, failed = 0, n = 0;

function check(name, condition, detail = '') {
  n++;
  if (condition) { passed++; console.log(`ok ${n} - ${name}`); }
  else { failed++; console.log(`not ok ${n} - ${name}${detail ? `: ${detail}` : ''}`); }
}

// A fresh profile directory per run (playwright's way of passing --user-data-dir).
const context = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
  executablePath: '/usr/bin/chromium', headless: true, acceptDownloads: true, viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const browser = context;
const page = await context.newPage();
const urls = [];
const offOrigin = [];
page.on('request', (r) => { urls.push(r.url()); if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) offOrigin.push(r.url()); });
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

async function storageEmpty() {
  return page.evaluate(() => localStorage.length === 0 && sessionStorage.length === 0 && document.cookie === '');
}

// Keyboard-only sign-in: Tab to the key field, type, Enter.
async function signIn(key) {
  await page.goto(`${base}/console/`);
  await page.waitForSelector('#api-key');
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('Tab'); // skip link
  for (let i = 0; i < 12; i++) {
    if (await page.evaluate(() => document.activeElement && document.activeElement.id === 'api-key')) break;
    await page.keyboard.press('Tab');
  }
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  await page.keyboard.type(key);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#nav:not([hidden])', { timeout: 10000 });
  return focused;
}

try {
  // ---- headers ----
  const response = await page.goto(`${base}/console/`);
  const headers = response.headers();
  check('console page carries a strict CSP', /default-src 'none'/.test(headers['content-security-policy'] || '') &&
    /script-src 'self'/.test(headers['content-security-policy']) && !/unsafe-inline/.test(headers['content-security-policy']));
  check('console page: nosniff, no-referrer, no-store', headers['x-content-type-options'] === 'nosniff' &&
    headers['referrer-policy'] === 'no-referrer' && headers['cache-control'] === 'no-store');
  await shot('signin');

  // ---- DPO ----
  const focused = await signIn(process.env.CDP_KEY_DPO);
  check('keyboard-only sign-in reaches the key field with Tab', focused === 'api-key', `focused ${focused}`);
  await page.waitForSelector('#queue-table tbody');
  check('DPO lands on the request queue', await page.isVisible('#view-queue'));
  check('the API key is not left in the form', (await page.inputValue('#api-key')) === '');
  const queueRows = await page.locator('#queue-table tbody tr').count();
  check('queue shows the seeded requests', queueRows >= 1, `${queueRows} rows`);
  const overdue = await page.locator('#queue-table tbody tr.overdue, #queue-table tbody tr.late').count();
  check('a request past its due date is highlighted', overdue >= 1, `${overdue} highlighted rows`);
  await page.selectOption('#queue-type', 'access');
  await page.click('#queue-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#queue-table tbody tr td:nth-child(2)')].every((td) => td.textContent === 'access'));
  check('queue filter by type shows only that type', (await page.locator('#queue-table tbody tr').count()) >= 1);
  await page.selectOption('#queue-type', '');
  await page.click('#queue-form button[type=submit]');
  await shot('dpo-queue');

  // Look up a person: consent history shown.
  await page.click('#nav button[data-view=lookup]');
  await page.fill('#lookup-value', EMAIL);
  await page.click('#lookup-form button[type=submit]');
  await page.waitForSelector('#person-facts');
  const lookupText = await page.textContent('#lookup-result');
  check('person view shows region and restriction', /Region\s*eu/.test(lookupText) && /not restricted/.test(lookupText));
  check('person view shows consent history (granted then withdrawn)', /granted/.test(lookupText) && /withdrawn/.test(lookupText));
  check('person view shows the identifiers to the DPO', lookupText.includes(EMAIL));
  await shot('dpo-lookup');

  // New erasure request: watch it complete, download the receipt.
  await page.click('#nav button[data-view=new-request]');
  await page.selectOption('#request-type', 'erasure');
  await page.fill('#request-id-value', EMAIL);
  await page.click('#request-form button[type=submit]');
  await page.waitForSelector('#request-status');
  await page.waitForFunction(() => document.getElementById('request-status')?.textContent === 'completed', null, { timeout: 30000 });
  check('the erasure request completes', true);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#request-download')]);
  const receiptPath = path.join(work, 'receipt.json');
  await download.saveAs(receiptPath);
  const receipt = JSON.parse(fs.readFileSync(receiptPath, 'utf8'));
  check('the receipt has signature, public key and region', typeof receipt.signature === 'string' &&
    typeof receipt.public_key === 'string' && receipt.region === 'eu', JSON.stringify(Object.keys(receipt)));
  check('the receipt holds no e-mail', !fs.readFileSync(receiptPath, 'utf8').includes(EMAIL));
  await shot('dpo-new-request');

  // Suppressions: the erased person's identifiers are listed; lift one with a reason.
  await page.click('#nav button[data-view=suppressions]');
  await page.waitForSelector('#suppression-table tbody tr');
  const before = await page.locator('#suppression-table tbody tr').count();
  check('suppression list shows entries after the erasure', before >= 1, `${before}`);
  await page.fill('#lift-value', EMAIL);
  await page.click('#lift-form button[type=submit]');
  check('the lift form will not submit without a reason', !(await page.evaluate(() => document.getElementById('lift-form').checkValidity())) &&
    (await page.textContent('#lift-result')) === '');
  const refused = await fetch(`${base}/v1/suppressions/lift`, { method: 'POST', headers: { Authorization: `Bearer ${process.env.CDP_KEY_DPO}` },
    body: JSON.stringify({ identity: { type: 'email', value: EMAIL }, reason: 'because' }) });
  const refusal = await refused.json();
  check('the server refuses an unknown reason (400, names the field), nothing lifted', refused.status === 400 &&
    refusal.error.code === 'bad_request' && /^reason: /.test(refusal.error.message), JSON.stringify(refusal));
  const wrongRole = await fetch(`${base}/v1/suppressions/lift`, { method: 'POST', headers: { Authorization: `Bearer ${process.env.CDP_KEY_AUDITOR}` },
    body: JSON.stringify({ identity: { type: 'email', value: EMAIL }, reason: 'fresh_consent' }) });
  check('an auditor may not lift a suppression (403)', wrongRole.status === 403);
  const auditorLookup = await fetch(`${base}/v1/subjects/lookup`, { method: 'POST', headers: { Authorization: `Bearer ${process.env.CDP_KEY_AUDITOR}` },
    body: JSON.stringify({ identity: { type: 'email', value: 'person2@example.com' } }) });
  check('an auditor may not look up a person (403)', auditorLookup.status === 403);
  check('the suppression list is unchanged by the refusals', (await page.locator('#suppression-table tbody tr').count()) === before);
  await page.selectOption('#lift-reason', 'fresh_consent');
  await page.click('#lift-form button[type=submit]');
  await page.waitForFunction(() => /Suppression lifted/.test(document.getElementById('lift-result').textContent));
  await page.waitForFunction((b) => document.querySelectorAll('#suppression-table tbody tr').length === b - 1, before);
  check('lift with a reason removes one entry', true);
  await shot('dpo-suppressions');

  await page.click('#nav button[data-view=charts]');
  await page.waitForSelector('#chart-dsr svg rect');
  await shot('dpo-charts');
  check('DPO storage is empty (key in memory only)', await storageEmpty());
  await page.click('#sign-out');

  // ---- auditor ----
  await signIn(process.env.CDP_KEY_AUDITOR);
  await page.waitForSelector('#audit-table tbody tr');
  const total = await page.locator('#audit-table tbody tr').count();
  check('auditor sees the first page of the audit log', total === 25, `${total} rows`);
  const pageLabel = await page.textContent('#audit-page');
  await page.click('#audit-next');
  check('paging moves to page 2', (await page.textContent('#audit-page')).startsWith('Page 2') && pageLabel.startsWith('Page 1'));
  await page.selectOption('#audit-decision', 'deny');
  await page.click('#audit-form button[type=submit]');
  // The summary reads "Loading…" until the new export is in and filtered.
  await page.waitForFunction(() => /match/.test(document.getElementById('audit-summary').textContent));
  const decisions = await page.locator('#audit-table tbody tr td:nth-child(7)').allTextContents();
  check('filter by decision shows only denials', decisions.length >= 1 && decisions.every((d) => d === 'deny'), decisions.join(','));
  await page.fill('#audit-operation', 'subject.view');
  await page.selectOption('#audit-decision', '');
  await page.click('#audit-form button[type=submit]');
  await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr td:nth-child(5)')].every((td) => td.textContent === 'subject.view'));
  check('the DPO person view is in the audit log', (await page.locator('#audit-table tbody tr').count()) >= 1);
  await page.fill('#audit-operation', '');
  // A fixed range, so the export can be compared with cdpctl's.
  await page.fill('#audit-to', process.env.CDP_AUDIT_TO);
  await page.click('#audit-form button[type=submit]');
  await page.waitForFunction(() => /match/.test(document.getElementById('audit-summary').textContent));
  await shot('auditor-audit-log');
  const [jsonl] = await Promise.all([page.waitForEvent('download'), page.click('#export-jsonl')]);
  await jsonl.saveAs(path.join(work, 'console-export.jsonl'));
  const [avro] = await Promise.all([page.waitForEvent('download'), page.click('#export-avro')]);
  await avro.saveAs(path.join(work, 'console-export.avro'));
  check('the Avro export is an Avro container', fs.readFileSync(path.join(work, 'console-export.avro')).subarray(0, 4).toString('latin1') === 'Obj\u0001');

  // Integrity: OK, then a tampered export FAILS.
  await page.click('#nav button[data-view=integrity]');
  await page.click('#integrity-fetch-key');
  await page.waitForFunction(() => document.getElementById('integrity-pubkey').value.length === 64);
  check('the server key is the region key', (await page.inputValue('#integrity-pubkey')) === process.env.CDP_PUBKEY);
  await page.click('#integrity-form button[type=submit]');
  await page.waitForSelector('#integrity-verdict');
  const verdict = await page.textContent('#integrity-verdict');
  check('integrity verification in the browser: OK', verdict.startsWith('OK'), verdict);
  check('the last signed checkpoint is shown', /cdp\.audit\/eu/.test(await page.textContent('#integrity-result')));
  await shot('auditor-integrity');
  await page.route('**/v1/audit?*', async (route) => {
    const real = await route.fetch();
    const text = await real.text();
    const tampered = text.replace('"decision":"deny"', '"decision":"allow"');
    await route.fulfill({ response: real, body: tampered });
  });
  await page.click('#integrity-form button[type=submit]');
  await page.waitForFunction(() => /FAIL/.test(document.getElementById('integrity-verdict')?.textContent || ''));
  check('a tampered export FAILS verification', /FAIL/.test(await page.textContent('#integrity-verdict')));
  await shot('auditor-integrity-tampered');
  await page.unroute('**/v1/audit?*');
  // Another key (a different region's) does not verify this log.
  await page.fill('#integrity-pubkey', process.env.CDP_OTHER_PUBKEY);
  await page.click('#integrity-form button[type=submit]');
  await page.waitForFunction(() => /not signed by the given public key/.test(document.getElementById('integrity-verdict')?.textContent || ''));
  check('another region key FAILS verification', true);

  await page.click('#nav button[data-view=charts]');
  await page.waitForSelector('#chart-access svg rect');
  await page.waitForSelector('#chart-denials svg rect');
  await page.waitForSelector('#chart-dsr svg rect');
  check('charts rendered as SVG (accesses per day, denials by reason, DSR timeliness)', true);
  const dsrDesc = await page.textContent('#chart-dsr desc');
  check('DSR chart counts a completed request', /Completed on time [1-9]/.test(dsrDesc), dsrDesc);
  await shot('auditor-charts');

  check('auditor storage is empty (key in memory only)', await storageEmpty());
  check('no request URL contains the e-mail', !urls.some((u) => u.includes(EMAIL) || u.includes(encodeURIComponent(EMAIL))),
    urls.filter((u) => u.includes('erin')).join(' '));
  check('no request left the origin', offOrigin.length === 0, offOrigin.join(' '));
  check('no API key in any URL', !urls.some((u) => u.includes(process.env.CDP_KEY_DPO) || u.includes(process.env.CDP_KEY_AUDITOR)));
  check('no script errors (CSP violations included)', consoleErrors.filter((e) => !/Failed to load resource/.test(e)).length === 0, consoleErrors.join(' | '));
} catch (e) {
  check('the run did not throw', false, e.stack || String(e));
  await shot('failure').catch(() => {});
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
