// The live page in two headless Chromium browsers, two users bidding against each other on a real instance.
// `make test` installs Chromium first (make browser); without it this test fails, unless SKIP_BROWSER_TESTS=1.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';
import { clientFor } from '../client/helpers.ts';
import { auctionInput } from '../helpers/fixtures.ts';

// the callbacks given to page.waitForFunction and $$eval run in the page (this project's tsconfig has no DOM lib)
declare const document: any;
type HTMLElement = { dataset: Record<string, string> };

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!existsSync(CHROMIUM)) {
  if (process.env.SKIP_BROWSER_TESTS === '1') {
    t.plan(0, `no Chromium at ${CHROMIUM} (SKIP_BROWSER_TESTS=1)`);
  } else {
    t.fail(`no Chromium at ${CHROMIUM}: run \`make browser\` (apt-get install -y chromium), or set SKIP_BROWSER_TESTS=1`);
  }
} else {
  await run();
}

/** A browser of its own (fresh profile) with the page open as `user`. */
async function openAs(t: Test, base: string, user: string): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'auction-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args: ARGS, headless: true });
  t.teardown(async () => {
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const { token } = await tokenFor(user);
  await page.goto(`${base}/live#token=${token}`);
  return { page, context, errors };
}

/** Waits until the element's text matches; on timeout the error says what the text was. */
async function waitText(page: Page, selector: string, re: RegExp, ms = 10_000) {
  try {
    await page.waitForFunction(([sel, src]) => new RegExp(src as string).test(document.querySelector(sel)?.textContent ?? ''), [selector, re.source] as const, { timeout: ms });
  } catch {
    throw new Error(`${selector} never matched ${re}: it says ${JSON.stringify(await page.textContent(selector).catch(() => null))}`);
  }
}

async function run() {
  const db = await freshDb(t);
  const inst = await startInstance(t, db.url);

  t.test('the page is served with its client library and security headers', async (t) => {
    const page = await fetch(`${inst.http}/live`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /text\/html/);
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const lib = await fetch(`${inst.http}/live/client/index.js`);
    t.equal(lib.status, 200);
    t.match(lib.headers.get('content-type'), /javascript/);
    const text = await lib.text();
    t.match(text, /from '\.\/client\.js'/);
    t.notMatch(text, /\.ts['"]/, 'no .ts specifiers left');
    t.equal((await fetch(`${inst.http}/live/client/nope.js`)).status, 404);
    t.equal((await fetch(`${inst.http}/live/..%2Fapp.ts`)).status, 404);
  });

  t.test('two users in two browsers bid against each other and see it live', async (t) => {
    const seller = await clientFor(t, inst.ws, 'page-seller');
    const snap = await seller.createAuction(auctionInput({ endsIn: 600, startingPrice: 10, minIncrement: 1 }));
    const id = snap.auction_id;
    const { userId: aliceId } = await tokenFor('page-alice');

    const [alice, bob] = await Promise.all([openAs(t, inst.http, 'page-alice'), openAs(t, inst.http, 'page-bob')]);
    for (const { page } of [alice, bob]) {
      // the token left the address bar; the list shows the auction
      t.notMatch(page.url(), /token=/);
      await page.locator(`#auction-list [data-auction="${id}"]`).waitFor({ timeout: 10_000 });
      await page.locator('#conn[data-state="open"]').waitFor();
      await page.click(`#auction-list [data-auction="${id}"]`);
      await page.locator('#room:not([hidden])').waitFor();
      await page.waitForFunction(() => document.querySelector('#min-next')?.textContent === '10.00');
    }

    // the countdown runs from server time: a bit under 10 minutes, and it moves
    const first = await alice.page.textContent('#countdown');
    t.match(first, /^00:(09|10):\d\d$/);
    await alice.page.waitForFunction((f) => document.querySelector('#countdown')?.textContent !== f, first, { timeout: 3000 });

    const bid = async (p: Page, amount: string) => {
      await p.fill('#bid-amount', amount);
      await p.click('#bid-button');
      await p.waitForFunction((a) => /accepted/.test(document.querySelector('#bid-result')?.textContent ?? '') &&
        document.querySelector('#bid-result')?.textContent?.includes(a), amount);
    };
    const seesBid = (p: Page, seq: number, amount: string) =>
      p.waitForFunction(([s, a]) => document.querySelector(`#feed li[data-seq="${s}"]`)?.textContent?.startsWith(a as string), [seq, amount] as const);

    await bid(alice.page, '10.00');
    await seesBid(bob.page, 1, '10.00');
    t.equal(await bob.page.textContent('#price'), '10.00');
    t.equal(await bob.page.textContent('#high-bidder'), `user ${aliceId.slice(0, 8)}`);
    t.equal(await alice.page.textContent('#high-bidder'), 'you');

    await bid(bob.page, '11.00');
    await seesBid(alice.page, 2, '11.00');
    await alice.page.locator('#notice:not([hidden])').waitFor();
    t.match(await alice.page.textContent('#notice'), /outbid/);
    t.equal(await alice.page.textContent('#price'), '11.00');
    t.equal(await alice.page.inputValue('#bid-amount'), '12', 'the bid box offers the next minimum');

    await bid(alice.page, '12.50');
    await seesBid(bob.page, 3, '12.50');
    await bob.page.locator('#notice:not([hidden])').waitFor();
    t.match(await bob.page.textContent('#notice'), /outbid/);

    // a bid below the minimum is refused with the server's reason
    await bob.page.fill('#bid-amount', '12.50');
    await bob.page.click('#bid-button');
    await bob.page.waitForFunction(() => /Rejected: bid must be at least 13.50/.test(document.querySelector('#bid-result')?.textContent ?? ''));

    // bob's socket dies; alice bids while he is away; his page resumes by seq and shows the bid once
    const { userId: bobId } = await tokenFor('page-bob');
    for (const c of inst.app.connections) if (c.userId === bobId) c.terminate();
    await bid(alice.page, '14.00');
    await seesBid(bob.page, 4, '14.00');
    await bob.page.locator('#conn[data-state="open"]').waitFor();
    await waitText(bob.page, '#price', /^14.00$/);

    for (const p of [alice.page, bob.page]) {
      t.same(await p.$$eval('#feed li', (lis) => lis.map((li) => Number((li as HTMLElement).dataset.seq))), [4, 3, 2, 1], 'the feed, newest first, each bid once');
      await p.waitForFunction((i) => document.querySelector(`#auction-list [data-auction="${i}"] .price`)?.textContent === '14.00', id);
    }
    t.same(alice.errors, [], 'no errors in alice\'s page');
    t.same(bob.errors, [], 'no errors in bob\'s page');
  });

  t.test('maximum bids, the reserve flag and buy now in the page', async (t) => {
    const seller = await clientFor(t, inst.ws, 'page-seller2');
    const snap = await seller.createAuction({ ...auctionInput({ endsIn: 600, startingPrice: 10, minIncrement: 1 }), reserve_price: 30, buy_now_price: 100 });
    const id = snap.auction_id;
    const [alice, bob] = await Promise.all([openAs(t, inst.http, 'page-alice2'), openAs(t, inst.http, 'page-bob2')]);
    for (const { page } of [alice, bob]) {
      await page.goto(`${inst.http}/live#auction=${id}`);
      await page.waitForFunction(() => document.querySelector('#min-next')?.textContent === '10.00');
      t.equal(await page.textContent('#reserve'), 'not met');
      t.equal(await page.isVisible('#buy-now'), true);
      t.equal(await page.textContent('#buy-now'), 'Buy now for 100.00');
    }

    // alice leaves a maximum of 40: her proxy bids up to the reserve at once, which both pages show met
    await alice.page.fill('#max-amount', '40');
    await alice.page.click('#max-button');
    await waitText(alice.page, '#bid-result', /You lead at 30.00 \(your maximum: 40.00\)/);
    for (const { page } of [alice, bob]) await waitText(page, '#reserve', /^met$/);
    // bob's 35 is answered at once by her proxy
    await bob.page.fill('#bid-amount', '35');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /another bidder's maximum is higher: now 36.00/);
    await waitText(bob.page, '#feed li', /^36.00 .*auto/);
    t.equal(await bob.page.textContent('#high-bidder'), `user ${(await tokenFor('page-alice2')).userId.slice(0, 8)}`);
    t.equal(await alice.page.textContent('#high-bidder'), 'you');
    // bob goes over her maximum: alice is told
    await bob.page.fill('#bid-amount', '45');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /Bid accepted: 45.00/);
    await waitText(alice.page, '#notice', /outbid/);
    await waitText(alice.page, '#price', /^45.00$/);

    for (const { page } of [alice, bob]) t.equal(await page.isVisible('#buy-now'), false, 'buy-now went with the reserve met');

    // another auction: bob buys it; it ends in both pages and the button goes
    const other = await seller.createAuction({ ...auctionInput({ endsIn: 600, startingPrice: 10, minIncrement: 1 }), buy_now_price: 100 });
    for (const { page } of [alice, bob]) {
      await page.goto(`${inst.http}/live#auction=${other.auction_id}`);
      await waitText(page, '#buy-now', /^Buy now for 100.00$/);
    }
    await bob.page.click('#buy-now');
    await waitText(bob.page, '#bid-result', /Bought for 100.00|You won at 100.00/); // the reply and auction_ended race
    for (const { page } of [alice, bob]) {
      await waitText(page, '#status', /^ended$/);
      t.equal(await page.isVisible('#buy-now'), false);
      t.equal(await page.isDisabled('#bid-button'), true);
    }
    t.match(await alice.page.textContent('#bid-result'), /Sold to user .* for 100.00/);
    t.same([...alice.errors, ...bob.errors], []);
  });
}
