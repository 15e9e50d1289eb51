// The live auction page: sign-in, the auction list, one auction room and a form to sell an item, on the
// client library (src/client/). Bundled by esbuild into dist/web/app.js (npm run build).
import { AuctionClient, type AuctionSnapshot } from '../client/index.ts';
import { $, el, field, show, text } from './dom.ts';
import { claims, clock, expiry, money } from './format.ts';
import { Room } from './room.ts';

const TOKEN_KEY = 'auction.token';
const hashParams = () => new URLSearchParams(location.hash.replace(/^#/, ''));

let client: AuctionClient | undefined;
let me = '';
let room: Room | undefined;
let auctions = new Map<string, AuctionSnapshot>();
let timers: ReturnType<typeof setInterval>[] = [];
/** when the socket's token expires (the server closes it then), ms */
let tokenExpires: number | undefined;
/** warn this long before the token expires */
const WARN_BEFORE_MS = 60_000;

// ---- sign-in: a token from #token=… (taken out of the address bar, any time) or the form; kept for this tab only

/** A token in the address bar, removed from it (and from history) once read. */
function takeTokenFromHash(): string | undefined {
  const params = hashParams();
  const token = params.get('token');
  if (!token) return undefined;
  params.delete('token');
  history.replaceState(null, '', `${location.pathname}${location.search}${params.size ? `#${params}` : ''}`);
  return token;
}

function signIn(token: string) {
  sessionStorage.setItem(TOKEN_KEY, token);
  start(token);
}

/** A new token for the signed-in user goes to the open socket in band (no reconnect); another user's signs in anew. */
function tokenGiven(token: string) {
  const c = claims(token);
  const expires = expiry(c);
  const current = client;
  if (!current || current.state !== 'open' || c.sub !== me || expires === undefined || expires <= Date.now()) return signIn(token);
  sessionStorage.setItem(TOKEN_KEY, token);
  void current.refreshToken();
}

/** Back to the sign-in form, saying why. */
function signedOut(reason?: string) {
  stop();
  sessionStorage.removeItem(TOKEN_KEY);
  show('main', false);
  show('signout', false);
  text('whoami', '');
  show('signin', true);
  show('signin-reason', reason !== undefined);
  text('signin-reason', reason ?? '');
}

const expiredText = (at: number) => `Your sign-in token expired at ${clock(at)}. Get a new one (npm run token -- <your name>) and paste it below.`;

// ---- notices: one at a time; an outbid notice goes once the user leads again there

function notice(message: string, auctionId?: string, kind = '') {
  const n = $('notice');
  n.replaceChildren(message);
  if (auctionId && room?.id !== auctionId) n.append(' ', el('a', { href: `#auction=${auctionId}` }, 'Go to the auction'));
  n.dataset.auction = auctionId ?? '';
  n.dataset.kind = kind;
  n.hidden = false;
}

function outbidNotice(auctionId: string, name: string, price: number) {
  notice(`You were outbid on ${name}: the price is now ${money(price)}.`, auctionId, 'outbid');
}

/** A later bid by someone else: an outbid notice on screen says the price as it is now. */
function refreshOutbid(s: AuctionSnapshot) {
  const n = $('notice');
  if (!n.hidden && n.dataset.kind === 'outbid' && n.dataset.auction === s.auction_id && s.high_bidder_id !== me) {
    outbidNotice(s.auction_id, s.item_name, s.current_price);
  }
}

function clearNotice(auctionId: string, kind: string) {
  const n = $('notice');
  if (n.dataset.auction === auctionId && n.dataset.kind === kind) n.hidden = true;
}

// ---- the list

async function loadList() {
  if (!client) return;
  try {
    const page = await client.listAuctions({ limit: 50 });
    auctions = new Map(page.auctions.map((a) => [a.auction_id, a]));
    renderList();
  } catch (err) {
    notice(`Could not load the auctions: ${(err as Error).message}`);
  }
}

function renderList() {
  const ul = $('auction-list');
  ul.replaceChildren();
  for (const a of auctions.values()) {
    const when = a.status === 'ended' || a.status === 'cancelled' ? `${a.status} ${clock(a.end_time)}` : `${a.status} · ends ${clock(a.end_time)}`;
    const link = el('a', { href: `#auction=${a.auction_id}`, 'data-auction': a.auction_id },
      el('span', { class: 'name' }, a.item_name),
      el('span', { class: 'price' }, money(a.current_price)),
      el('span', { class: 'meta' }, `${when} · by ${a.creator_id === me ? 'you' : a.creator_name}`));
    if (room?.id === a.auction_id) link.setAttribute('aria-current', 'true');
    ul.append(el('li', {}, link));
  }
  show('list-empty', auctions.size === 0);
}

// ---- selling

async function sell() {
  if (!client) return;
  const minutes = Number(field('sell-minutes').value);
  const now = client.serverNow();
  const optional = (id: string) => field(id).value.trim() || undefined;
  const result = $('sell-result');
  result.textContent = 'Starting…';
  result.className = 'result good';
  try {
    const a = await client.createAuction({
      item: { name: field('sell-name').value, description: $<HTMLTextAreaElement>('sell-description').value || undefined },
      start_time: new Date(now).toISOString(), end_time: new Date(now + minutes * 60_000).toISOString(),
      starting_price: field('sell-start').value, buy_now_price: optional('sell-buy-now'), reserve_price: optional('sell-reserve'),
    });
    ($('sell-form') as HTMLFormElement).reset();
    show('sell-form', false);
    result.textContent = '';
    auctions.set(a.auction_id, a);
    location.hash = `auction=${a.auction_id}`;
    void loadList();
  } catch (err) {
    result.textContent = `Not started: ${(err as Error).message}`;
    result.className = 'result bad';
  }
}

// ---- the room

function route() {
  const id = hashParams().get('auction');
  if (id && room?.id === id) return;
  room?.leave();
  room = undefined;
  if (id && client) {
    room = new Room(client, id, {
      me,
      changed: (s) => {
        refreshOutbid(s);
        if (!auctions.has(s.auction_id)) return;
        auctions.set(s.auction_id, s);
        renderList();
      },
      outbid: outbidNotice,
      leading: (auctionId) => clearNotice(auctionId, 'outbid'),
    });
    void room.open();
  }
  renderList();
}

// ---- connecting

function stop() {
  room?.leave();
  room = undefined;
  client?.close();
  client = undefined;
  for (const t of timers) clearInterval(t);
  timers = [];
}

function start(token: string) {
  stop();
  const c = claims(token);
  const expires = expiry(c);
  if (expires !== undefined && expires <= Date.now()) return signedOut(expiredText(expires));
  tokenExpires = expires;
  me = c.sub ?? '';
  text('whoami', c.name ?? 'signed in');
  show('signin', false);
  show('main', true);
  show('signout', true);
  $('notice').hidden = true;
  const conn = $('conn');
  const ws = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const current = new AuctionClient({ url: ws, token: () => sessionStorage.getItem(TOKEN_KEY) ?? '' });
  client = current;
  const showState = () => {
    conn.dataset.state = current.state;
    conn.textContent = current.state === 'open' ? 'live' : current.state;
  };
  current.on('connected', (e) => {
    showState();
    if (e.reconnect) void loadList();
  });
  current.on('disconnected', (e) => {
    showState();
    // a token that ran out while the page was open cannot reconnect: say so instead of retrying for ever
    if (e.willReconnect && tokenExpires !== undefined && tokenExpires <= Date.now()) signedOut(expiredText(tokenExpires));
  });
  // a new #token= for the same user, taken in band
  current.on('token_refreshed', (e) => {
    tokenExpires = e.expiresAt;
    if ($('notice').dataset.kind === 'expiring') $('notice').hidden = true;
  });
  // the user's own channel: an outbid on an auction not open here
  current.on('outbid', (e) => {
    if (room?.id === e.auction_id) return; // the room says it
    outbidNotice(e.auction_id, auctions.get(e.auction_id)?.item_name ?? 'an auction', e.data.current_price);
  });
  current.on('auction_ended', (e) => {
    if (room?.id === e.auction_id) return;
    const name = auctions.get(e.auction_id)?.item_name ?? 'An auction';
    if (e.data.winner_id === me) notice(`You won ${name} for ${money(e.data.final_price)}!`, e.auction_id, 'result');
    void loadList();
  });
  current.on('error', (err) => {
    if (err.code === 'subject_mismatch' || err.code === 'invalid_token' || err.code === 'token_expired') {
      notice(`The new token was not accepted (${err.code}): you stay signed in until ${clock(tokenExpires ?? Date.now())}.`, undefined, 'expiring');
    }
    console.warn('auction client:', err.code, err.message);
  });
  current.connect().then(() => {
    showState();
    void loadList();
    route();
  }, () => {
    showState();
    signedOut('The auction server did not accept the connection. The token may be for another server, or the server is down: '
      + 'paste a new token, or try again in a moment.');
  });
  timers.push(setInterval(() => {
    room?.tick();
    warnExpiring();
  }, 250));
  timers.push(setInterval(() => { if (current.state === 'open') void loadList(); }, 15_000));
}

/** Shortly before the token expires: a notice saying how to stay signed in (a new #token= in the address bar). */
function warnExpiring() {
  const n = $('notice');
  if (tokenExpires === undefined || tokenExpires - Date.now() > WARN_BEFORE_MS || (!n.hidden && n.dataset.kind === 'expiring')) return;
  notice(`Your sign-in token expires at ${clock(tokenExpires)}. Open this page with a new #token=… to stay signed in without reconnecting.`, undefined, 'expiring');
}

// ---- wiring

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = field('token-input').value.trim();
  field('token-input').value = '';
  if (token) signIn(token);
});
$('signout').addEventListener('click', () => {
  location.hash = '';
  signedOut();
});
$('refresh').addEventListener('click', () => void loadList());
$('sell-open').addEventListener('click', () => { show('sell-form', true); field('sell-name').focus(); });
$('sell-cancel').addEventListener('click', () => show('sell-form', false));
$('sell-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void sell();
});
$('bid-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void room?.bid(field('bid-amount').value, undefined);
});
$('max-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void room?.bid(undefined, field('max-amount').value);
});
$('buy-now').addEventListener('click', () => void room?.buyNow());
$('notice').addEventListener('click', (ev) => { if (ev.target === $('notice')) $('notice').hidden = true; });
window.addEventListener('hashchange', () => {
  const token = takeTokenFromHash();
  if (token) tokenGiven(token); // a token given after load: renews the sign-in in band, or signs in as its user
  else if (client) route();
});

const token = takeTokenFromHash() ?? sessionStorage.getItem(TOKEN_KEY);
if (token) signIn(token);
else signedOut();
