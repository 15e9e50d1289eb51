// The live page in two headless Chromium browsers, two users bidding against each other on a real instance.
// `make test` installs Chromium first (make browser); without it this test fails, unless SKIP_BROWSER_TESTS=1.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freshDb } from '../helpers/db.ts';
import WebSocket from 'ws';
import { Client, startInstance, tokenFor } from '../helpers/app.ts';
import { CLOSE } from '../../src/protocol/close-codes.ts';
import { clientFor } from '../client/helpers.ts';
import { auctionInput } from '../helpers/fixtures.ts';
import { shoot } from './shots.ts';

// the callbacks given to page.waitForFunction and $$eval run in the page (this project's tsconfig has no DOM lib)
declare const document: any;
declare const location: { hash: string };
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

/** A browser of its own (fresh profile) with the page open as `user` (or signed out, without one). */
async function openAs(t: Test, base: string, user?: string): Promise<{ page: Page; context: BrowserContext; errors: string[] }> {
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
  await page.goto(user ? `${base}/live#token=${(await tokenFor(user)).token}` : `${base}/live`);
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
  const visible = (p: Page, sel: string) => p.isVisible(sel);

  t.test('the page is served with its bundled script, the client library and security headers', async (t) => {
    const page = await fetch(`${inst.http}/live`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /text\/html/);
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
    t.match(page.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    t.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const app = await fetch(`${inst.http}/live/app.js`);
    t.equal(app.status, 200);
    t.match(app.headers.get('content-type'), /javascript/);
    t.notMatch(await app.text(), /\bfrom\s*['"]/, 'one bundle: no imports left to fetch');
    const lib = await fetch(`${inst.http}/live/client/index.js`);
    t.equal(lib.status, 200);
    const text = await lib.text();
    t.match(text, /export\s*\{[^}]*\bAuctionClient\b/, 'the client library as one ES module');
    t.notMatch(text, /\.ts['"]/, 'no .ts specifiers left');
    t.equal((await fetch(`${inst.http}/live/client/nope.js`)).status, 503, 'a script that was not built says so');
    t.equal((await fetch(`${inst.http}/live/..%2Fapp.ts`)).status, 404);
  });

  t.test('signed out, the page shows the sign-in form only; a token given later signs in; an expired one says so', async (t) => {
    const { page, errors } = await openAs(t, inst.http);
    await page.locator('#signin:not([hidden])').waitFor();
    t.equal(await visible(page, '#main'), false, 'no empty panels');
    t.equal(await visible(page, '#list-pane'), false);
    await shoot(page, 'signed-out');
    const expired = await tokenFor('page-late', { ttlSeconds: -60 });
    await page.evaluate((tok) => { location.hash = `token=${tok}`; }, expired.token);
    await waitText(page, '#signin-reason', /token expired at .*Get a new one/);
    t.equal(await visible(page, '#main'), false);
    await shoot(page, 'expired-token');
    const { token } = await tokenFor('page-late');
    await page.evaluate((tok) => { location.hash = `token=${tok}`; }, token);
    await page.locator('#conn[data-state="open"]').waitFor();
    t.equal(await page.textContent('#whoami'), 'page-late');
    t.equal(await visible(page, '#signin'), false);
    t.notMatch(page.url(), /token=/, 'the token left the address bar');
    t.same(errors, []);
  });

  t.test('a short-lived token: a warning, a new #token= taken in band (no reconnect), and a sign-in notice at exp', async (t) => {
    const { page, errors } = await openAs(t, inst.http);
    await page.locator('#signin:not([hidden])').waitFor();
    // 2 s tokens (exp has whole seconds, so 1-2 s left): the test waits for the close, not for a timer
    const short = await tokenFor('page-short', { ttlSeconds: 2 });
    await page.evaluate((tok) => { location.hash = `token=${tok}`; }, short.token);
    await page.locator('#conn[data-state="open"]').waitFor();
    await waitText(page, '#notice', /sign-in token expires at .*new #token=/);
    const before = [...inst.app.connections].filter((c) => c.userId === short.userId);
    t.equal(before.length, 1, 'one socket');
    const fresh = await tokenFor('page-short', { ttlSeconds: 600 });
    await page.evaluate((tok) => { location.hash = `token=${tok}`; }, fresh.token);
    await page.locator('#notice[hidden]').waitFor({ state: 'attached' });
    // a plain socket with the first token: its close (4001) marks that token's exp
    const control = new Client(new WebSocket(`${inst.ws}?token=${short.token}`), short.userId);
    t.teardown(() => control.ws.terminate());
    t.equal(await control.closed(5000), CLOSE.tokenExpired, 'the first token expired');
    t.ok(inst.app.connections.has(before[0]) && !before[0].closing, 'the page kept its socket (no reconnect)');
    t.equal(await page.getAttribute('#conn', 'data-state'), 'open');
    t.equal(await visible(page, '#main'), true, 'still signed in');

    const lapsed = await tokenFor('page-lapsed', { ttlSeconds: 2 });
    await page.evaluate((tok) => { location.hash = `token=${tok}`; }, lapsed.token);
    await waitText(page, '#whoami', /page-lapsed/);
    await waitText(page, '#signin-reason', /token expired at .*Get a new one/);
    t.equal(await visible(page, '#main'), false, 'at exp the page asks for a new token');
    t.same(errors, []);
  });

  t.test('two users in two browsers: names, live bids, an outbid notice that goes once you lead again', async (t) => {
    const seller = await clientFor(t, inst.ws, 'page-seller');
    const snap = await seller.createAuction(auctionInput({ item: { name: 'Brass lamp', description: 'A 1930s desk lamp' }, endsIn: 600, startingPrice: 10, minIncrement: 1 }));
    const id = snap.auction_id;

    const [alice, bob] = await Promise.all([openAs(t, inst.http, 'page-alice'), openAs(t, inst.http, 'page-bob')]);
    for (const { page } of [alice, bob]) {
      t.notMatch(page.url(), /token=/);
      await page.locator(`#auction-list [data-auction="${id}"]`).waitFor({ timeout: 10_000 });
      t.match(await page.textContent(`#auction-list [data-auction="${id}"]`), /Brass lamp.*by page-seller/, 'the list names the item and its seller');
      await page.locator('#conn[data-state="open"]').waitFor();
      await page.click(`#auction-list [data-auction="${id}"]`);
      await page.locator('#room:not([hidden])').waitFor();
      await waitText(page, '#min-next', /^10\.00$/);
      t.equal(await page.textContent('#room-title'), 'Brass lamp');
      t.equal(await page.textContent('#room-description'), 'A 1930s desk lamp');
      t.equal(await page.textContent('#seller'), 'page-seller');
      t.equal(await page.textContent('#high-bidder'), 'no bids yet');
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
    t.equal(await bob.page.textContent('#high-bidder'), 'page-alice', 'the leader by name');
    t.match(await bob.page.textContent('#feed li[data-seq="1"]'), /^10\.00 by page-alice at /);
    t.equal(await alice.page.textContent('#high-bidder'), 'you');
    t.match(await alice.page.textContent('#feed li[data-seq="1"]'), /^10\.00 by you at /);

    await bid(bob.page, '11.00');
    await seesBid(alice.page, 2, '11.00');
    await waitText(alice.page, '#notice', /You were outbid on Brass lamp: the price is now 11\.00/);
    t.equal(await alice.page.textContent('#price'), '11.00');
    await waitText(alice.page, '#min-next', /^12\.00$/);
    t.equal(await alice.page.inputValue('#bid-amount'), '12', 'the bid box offers the next minimum, as the server says it');
    await shoot(alice.page, 'outbid');

    await bid(alice.page, '12.50');
    await alice.page.locator('#notice').waitFor({ state: 'hidden' });
    t.equal(await visible(alice.page, '#notice'), false, 'leading again, the outbid notice is gone');
    await seesBid(bob.page, 3, '12.50');
    await waitText(bob.page, '#notice', /outbid/);

    // a bid below the minimum is refused with the server's reason
    await bob.page.fill('#bid-amount', '12.50');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /Rejected: bid must be at least 13\.50/);

    // bob's socket dies; alice bids while he is away; his page resumes by seq and shows the bid once
    const { userId: bobId } = await tokenFor('page-bob');
    for (const c of inst.app.connections) if (c.userId === bobId) c.terminate();
    await bid(alice.page, '14.00');
    await seesBid(bob.page, 4, '14.00');
    await bob.page.locator('#conn[data-state="open"]').waitFor();
    await waitText(bob.page, '#price', /^14\.00$/);
    await waitText(bob.page, '#bid-result', /^$/); // "Rejected: at least 13.50" is old news at 14.00
    await waitText(bob.page, '#notice', /You were outbid on Brass lamp: the price is now 14\.00/); // not 12.50 any more
    await shoot(bob.page, 'room-live');

    for (const p of [alice.page, bob.page]) {
      t.same(await p.$$eval('#feed li', (lis) => lis.map((li) => Number((li as HTMLElement).dataset.seq))), [4, 3, 2, 1], 'the feed, newest first, each bid once');
      await p.waitForFunction((i) => document.querySelector(`#auction-list [data-auction="${i}"] .price`)?.textContent === '14.00', id);
    }

    // the end: the winner by name, no next bid, no bid boxes
    await db.sql`select auction.end_auction(${id})`;
    await waitText(bob.page, '#status', /^ended$/);
    await waitText(alice.page, '#status', /^ended$/);
    for (const { page } of [alice, bob]) {
      t.equal(await page.textContent('#leader-label'), 'Winner');
      t.equal(await page.textContent('#price-label'), 'Sold for');
      t.equal(await visible(page, '#min-next-row'), false, 'no "next bid from" on an ended auction');
      t.equal(await visible(page, '#bidding'), false, 'no bid boxes');
      t.equal(await page.textContent('#countdown-label'), 'Ended');
    }
    t.equal(await bob.page.textContent('#high-bidder'), 'page-alice');
    t.equal(await bob.page.textContent('#bid-result'), 'Sold to page-alice for 14.00');
    t.equal(await alice.page.textContent('#high-bidder'), 'you');
    t.equal(await alice.page.textContent('#bid-result'), 'You won at 14.00!');
    await shoot(bob.page, 'room-ended');
    t.same(alice.errors, [], "no errors in alice's page");
    t.same(bob.errors, [], "no errors in bob's page");
  });

  t.test('sell an item from the page; another user finds it in the list and bids', async (t) => {
    const [alice, bob] = await Promise.all([openAs(t, inst.http, 'page-alice3'), openAs(t, inst.http, 'page-bob3')]);
    await alice.page.locator('#conn[data-state="open"]').waitFor();
    await alice.page.click('#sell-open');
    await alice.page.fill('#sell-name', 'Green teapot');
    await alice.page.fill('#sell-description', 'Holds six cups');
    await alice.page.fill('#sell-start', '5');
    await alice.page.fill('#sell-minutes', '30');
    await alice.page.fill('#sell-buy-now', '40');
    await shoot(alice.page, 'sell-form');
    await alice.page.click('#sell-submit');
    await waitText(alice.page, '#room-title', /^Green teapot$/);
    t.equal(await alice.page.textContent('#seller'), 'you');
    t.equal(await visible(alice.page, '#bidding'), false, 'no bid boxes on your own auction');
    t.match(alice.page.url(), /#auction=[0-9a-f-]{36}$/);
    const id = alice.page.url().split('#auction=')[1];

    await bob.page.click('#refresh');
    await bob.page.locator(`#auction-list [data-auction="${id}"]`).waitFor();
    t.match(await bob.page.textContent(`#auction-list [data-auction="${id}"]`), /Green teapot.*by page-alice3/);
    await bob.page.click(`#auction-list [data-auction="${id}"]`);
    await waitText(bob.page, '#buy-now', /^Buy now for 40\.00$/);
    await bob.page.fill('#bid-amount', '5');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /Bid accepted: 5\.00/);
    await waitText(alice.page, '#high-bidder', /^page-bob3$/);
    // without a reserve the first bid withdraws buy-now: both pages drop the button, from the bid event itself
    for (const { page } of [alice, bob]) await page.locator('#buy-now').waitFor({ state: 'hidden' });
    await bob.page.setViewportSize({ width: 390, height: 844 }); // a phone: one column
    t.equal(await bob.page.textContent('#room-title'), 'Green teapot');
    await shoot(bob.page, 'phone-room');
    t.same([...alice.errors, ...bob.errors], []);
  });

  t.test('maximum bids, the reserve flag and buy now in the page', async (t) => {
    const seller = await clientFor(t, inst.ws, 'page-seller2');
    const snap = await seller.createAuction({ ...auctionInput({ endsIn: 600, startingPrice: 10, minIncrement: 1 }), reserve_price: 30, buy_now_price: 100 });
    const id = snap.auction_id;
    const [alice, bob] = await Promise.all([openAs(t, inst.http, 'page-alice2'), openAs(t, inst.http, 'page-bob2')]);
    for (const { page } of [alice, bob]) {
      await page.goto(`${inst.http}/live#auction=${id}`);
      await waitText(page, '#min-next', /^10\.00$/);
      t.equal(await page.textContent('#reserve'), 'not met');
      t.equal(await visible(page, '#buy-now'), true);
      t.equal(await page.textContent('#buy-now'), 'Buy now for 100.00');
    }

    // alice leaves a maximum of 40: her proxy bids up to the reserve at once, which both pages show met
    await alice.page.fill('#max-amount', '40');
    await alice.page.click('#max-button');
    await waitText(alice.page, '#bid-result', /You lead at 30\.00 \(your maximum: 40\.00\)/);
    for (const { page } of [alice, bob]) await waitText(page, '#reserve', /^met$/);
    // bob's 35 is answered at once by her proxy
    await bob.page.fill('#bid-amount', '35');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /another bidder's maximum is higher: now 36\.00/);
    await waitText(bob.page, '#feed li', /^36\.00 by page-alice2 .*auto/);
    t.equal(await bob.page.textContent('#high-bidder'), 'page-alice2');
    t.equal(await alice.page.textContent('#high-bidder'), 'you');
    // bob goes over her maximum: alice is told
    await bob.page.fill('#bid-amount', '45');
    await bob.page.click('#bid-button');
    await waitText(bob.page, '#bid-result', /Bid accepted: 45\.00/);
    await waitText(alice.page, '#notice', /outbid/);
    await waitText(alice.page, '#price', /^45\.00$/);

    for (const { page } of [alice, bob]) t.equal(await visible(page, '#buy-now'), false, 'buy-now went with the reserve met');

    // another auction: bob buys it; it ends in both pages and the button goes
    const other = await seller.createAuction({ ...auctionInput({ endsIn: 600, startingPrice: 10, minIncrement: 1 }), buy_now_price: 100 });
    for (const { page } of [alice, bob]) {
      await page.goto(`${inst.http}/live#auction=${other.auction_id}`);
      await waitText(page, '#buy-now', /^Buy now for 100\.00$/);
    }
    await bob.page.click('#buy-now');
    await waitText(bob.page, '#bid-result', /Bought for 100\.00|You won at 100\.00/); // the reply and auction_ended race
    for (const { page } of [alice, bob]) {
      await waitText(page, '#status', /^ended$/);
      t.equal(await visible(page, '#buy-now'), false);
      t.equal(await visible(page, '#bidding'), false);
    }
    t.match(await alice.page.textContent('#bid-result'), /Sold to page-bob2 for 100\.00/);
    t.same([...alice.errors, ...bob.errors], []);
  });
}
