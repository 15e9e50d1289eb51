// The docs UI at /docs in headless Chromium: it renders every REST operation from /openapi.json, loads nothing
// from another host, and its "try it out" call reaches the API. Without Chromium it fails, unless SKIP_BROWSER_TESTS=1.
import t from 'tap';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { freshDb } from '../helpers/db.ts';
import { startInstance } from '../helpers/app.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!existsSync(CHROMIUM)) {
  if (process.env.SKIP_BROWSER_TESTS === '1') t.plan(0, `no Chromium at ${CHROMIUM} (SKIP_BROWSER_TESTS=1)`);
  else t.fail(`no Chromium at ${CHROMIUM}: run \`make browser\` (apt-get install -y chromium), or set SKIP_BROWSER_TESTS=1`);
} else {
  const db = await freshDb(t);
  const inst = await startInstance(t, db.url);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());

  t.test('/docs shows every operation, offline', async (t) => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith(inst.http) && !r.url().startsWith('data:')) elsewhere.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${inst.http}/docs`);
    await page.waitForSelector('.opblock');
    t.same((await page.locator('.opblock-summary-operation-id').allTextContents()).sort(),
      ['buyNow', 'createAuction', 'createItem', 'getAuction', 'listAuctions', 'listBids', 'placeBid']);

    // try GET /api/v1/auctions without a token: the UI calls this server and shows the API's 401
    const op = page.locator('#operations-auctions-listAuctions');
    await op.locator('.opblock-summary').click();
    await op.locator('.try-out__btn').click();
    const answer = page.waitForResponse((r) => r.url().startsWith(`${inst.http}/api/v1/auctions`));
    await op.locator('.execute').click();
    t.equal((await answer).status(), 401);
    await op.locator('.live-responses-table .response-col_status').first().waitFor();
    t.match(await op.locator('.live-responses-table').textContent(), /unauthorized/);

    t.same(elsewhere, [], 'no request leaves this server');
    t.same(problems.filter((p) => !p.includes('401')), [], 'no console error (the 401 is the one asked for)');
  });
}
