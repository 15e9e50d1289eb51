// The live auction page: an auction list and one auction room, on the client library (src/client/).
// Every value from the server goes into the page through textContent, never as HTML.
import { AuctionClient, BidRejectedError } from '/live/client/index.js';

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'auction.token';

// ---- token: from #token=… (then dropped from the address bar) or the form; kept for this tab only

function hashParams() {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

function takeToken() {
  const params = hashParams();
  const fromUrl = params.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    params.delete('token');
    history.replaceState(null, '', `${location.pathname}${location.search}${params.size ? `#${params}` : ''}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function claims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
  } catch {
    return {};
  }
}

// ---- formatting

const money = (n) => (n == null ? '–' : Number(n).toFixed(2));
const shortId = (id) => (id ? id.slice(0, 8) : '–');
let me = '';
const who = (id) => (id == null ? 'nobody yet' : id === me ? 'you' : `user ${shortId(id)}`);
const title = (a) => a.item_name ?? a.item?.name ?? `Auction ${shortId(a.auction_id)}`;

function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

// ---- state

let client;
let auctions = new Map(); // id -> snapshot, for the list
let room; // { id, snap, feed: Map<seq, bid> }
const outbidShown = new Set();

function showNotice(text, auctionId) {
  const n = $('notice');
  n.replaceChildren(text);
  if (auctionId && room?.id !== auctionId) {
    n.append(' ', el('a', { href: `#auction=${auctionId}` }, 'Go to auction'));
  }
  n.dataset.auction = auctionId ?? '';
  n.hidden = false;
}

function setResult(text, good) {
  const r = $('bid-result');
  r.textContent = text;
  r.className = `result ${good ? 'good' : 'bad'}`;
}

// ---- the list

async function loadList() {
  try {
    const page = await client.listAuctions({ limit: 50 });
    auctions = new Map(page.auctions.map((a) => [a.auction_id, a]));
    renderList();
  } catch (err) {
    showNotice(`Could not load auctions: ${err.message}`);
  }
}

function renderList() {
  const ul = $('auction-list');
  ul.replaceChildren();
  for (const a of auctions.values()) {
    const link = el('a', { href: `#auction=${a.auction_id}`, 'data-auction': a.auction_id },
      el('span', { class: 'name' }, title(a)),
      el('span', { class: 'price' }, money(a.current_price)),
      el('span', { class: 'meta' }, `${a.status} · ends ${new Date(a.end_time).toLocaleString()}`));
    if (room?.id === a.auction_id) link.setAttribute('aria-current', 'true');
    ul.append(el('li', {}, link));
  }
  $('list-empty').hidden = auctions.size > 0;
}

function updateListEntry(id, patch) {
  const a = auctions.get(id);
  if (!a) return;
  Object.assign(a, patch);
  renderList();
}

// ---- the room

async function openRoom(id) {
  if (room?.id === id) return;
  const previous = room?.id;
  room = { id, snap: undefined, feed: new Map() };
  $('feed').replaceChildren();
  $('bid-result').textContent = '';
  $('room').hidden = false;
  renderList();
  if (previous) client.unsubscribe(previous).catch(() => {});
  try {
    const snap = await client.subscribe(id);
    if (room?.id !== id) return;
    room.snap = snap;
    $('bid-amount').value = String(snap.min_next_bid);
    renderRoom();
    await loadHistory(id, snap.seq);
  } catch (err) {
    if (room?.id === id) setResult(`Could not open the auction: ${err.message}`, false);
  }
}

function closeRoom() {
  if (room) client.unsubscribe(room.id).catch(() => {});
  room = undefined;
  $('room').hidden = true;
  renderList();
}

/** The bids before the subscription, from the REST API: the last 20 up to the snapshot's seq. */
async function loadHistory(id, seq) {
  if (seq === 0) return;
  const since = Math.max(0, seq - 20);
  const res = await fetch(`/api/v1/auctions/${id}/bids?since_seq=${since}&limit=20`, {
    headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` },
  });
  if (!res.ok || room?.id !== id) return;
  const body = await res.json();
  for (const b of body.bids) addToFeed(b);
}

function addToFeed(b) {
  if (room.feed.has(b.seq)) return;
  room.feed.set(b.seq, b);
  const li = el('li', { 'data-seq': String(b.seq), value: b.seq, class: b.user_id === me ? 'mine' : '' },
    `${money(b.amount)} by ${who(b.user_id)} at ${new Date(b.time).toLocaleTimeString()}`);
  if (b.proxy || b.kind === 'proxy') li.append(el('span', { class: 'tag' }, 'auto'));
  if (b.kind === 'buy_now') li.append(el('span', { class: 'tag' }, 'buy now'));
  // newest first, by seq
  const feed = $('feed');
  const after = [...feed.children].find((x) => Number(x.dataset.seq) < b.seq);
  feed.insertBefore(li, after ?? null);
}

function renderRoom() {
  if (!room?.snap) return;
  const s = room.snap;
  $('room-title').textContent = title(s);
  $('price').textContent = s.seq === 0 ? `${money(s.starting_price)} (starting)` : money(s.current_price);
  $('high-bidder').textContent = who(s.high_bidder_id);
  $('status').textContent = s.status;
  $('min-next').textContent = money(s.min_next_bid);
  $('reserve-row').hidden = !s.has_reserve;
  const reserve = $('reserve');
  reserve.textContent = s.reserve_met ? 'met' : 'not met';
  reserve.className = s.reserve_met ? 'yes' : 'no';
  const box = $('bid-amount');
  if (document.activeElement !== box && !(Number(box.value) >= s.min_next_bid)) box.value = String(s.min_next_bid);
  const open = s.status === 'active' || s.status === 'pending';
  for (const id of ['bid-button', 'max-button', 'bid-amount', 'max-amount']) $(id).disabled = !open;
  const buy = $('buy-now');
  buy.hidden = !(s.status === 'active' && s.buy_now_price != null);
  buy.textContent = `Buy now for ${money(s.buy_now_price)}`;
  tick();
}

/** The countdown, from the server's clock as the client library estimates it. */
function tick() {
  if (!room?.snap) return;
  const s = room.snap;
  const now = client.serverNow();
  let label = 'Ends in';
  let text;
  if (s.status === 'pending' && Date.parse(s.start_time) > now) {
    label = 'Starts in';
    text = duration(Date.parse(s.start_time) - now);
  } else if (s.status === 'ended' || s.status === 'cancelled') {
    label = 'Ended';
    text = s.status === 'cancelled' ? 'cancelled' : new Date(s.end_time).toLocaleTimeString();
  } else {
    text = duration(Date.parse(s.end_time) - now);
  }
  $('countdown-label').textContent = label;
  $('countdown').textContent = text;
}

// ---- events

function onBidPlaced(e) {
  const d = e.data;
  updateListEntry(e.auction_id, { current_price: d.amount, seq: d.seq });
  if (room?.id !== e.auction_id || !room.snap) return;
  const s = room.snap;
  // only a bid newer than what the room shows changes the lead (a replay after a reconnect is older)
  const lostLead = d.seq > s.seq && s.high_bidder_id === me && d.user_id !== me;
  if (d.seq > s.seq) {
    Object.assign(s, { seq: d.seq, current_price: d.amount, high_bidder_id: d.user_id });
    if (d.reserve_met !== undefined) s.reserve_met = d.reserve_met;
    s.min_next_bid = nextMinimum(s, d.amount);
    // buy-now is offered until bidding meets the reserve (without one, until the first bid) and while above the next bid
    if (s.buy_now_price != null && (!s.has_reserve || s.reserve_met || s.min_next_bid > s.buy_now_price)) s.buy_now_price = null;
  }
  addToFeed(d);
  if (lostLead) outbidNotice(e.auction_id, d.seq, d.amount);
  renderRoom();
}

/** The least next bid after `price`: the server's own number arrives with each snapshot and reply; until then, the step. */
function nextMinimum(s, price) {
  const inc = s.increments;
  let step = s.min_increment;
  if (inc && 'fixed' in inc) step = inc.fixed;
  else if (inc?.table) step = (inc.table.find((r) => r.below == null || price < r.below) ?? inc.table.at(-1)).step;
  return Math.round((price + step) * 100) / 100;
}

function outbidNotice(auctionId, seq, price) {
  const key = `${auctionId}:${seq}`;
  if (outbidShown.has(key)) return;
  outbidShown.add(key);
  const name = auctions.get(auctionId) ? title(auctions.get(auctionId)) : `auction ${shortId(auctionId)}`;
  showNotice(`You were outbid on ${name}: the price is now ${money(price)}.`, auctionId);
}

function onSnapshot(e) {
  auctions.has(e.auction_id) && updateListEntry(e.auction_id, e.data);
  if (room?.id === e.auction_id && room.snap && e.data.seq >= room.snap.seq) {
    room.snap = { ...room.snap, ...e.data };
    renderRoom();
  }
}

function onStatus(e) {
  const patch = {};
  if (e.data.status) patch.status = e.data.status;
  if (e.data.end_time) patch.end_time = e.data.end_time;
  if (e.type === 'auction_ended') Object.assign(patch, { winner_id: e.data.winner_id, buy_now_price: null });
  updateListEntry(e.auction_id, patch);
  if (room?.id !== e.auction_id || !room.snap) return;
  Object.assign(room.snap, patch);
  if (e.type === 'auction_extended') setResult(`Extended: now ends ${new Date(e.data.end_time).toLocaleTimeString()}`, true);
  if (e.type === 'auction_ended') {
    setResult(e.data.winner_id === me ? `You won at ${money(e.data.final_price)}!`
      : e.data.winner_id ? `Sold to ${who(e.data.winner_id)} for ${money(e.data.final_price)}` : 'Ended without a sale', e.data.winner_id === me);
  }
  if (e.type === 'auction_cancelled') setResult(`Cancelled${e.data.reason ? `: ${e.data.reason}` : ''}`, false);
  renderRoom();
}

// ---- actions

async function placeBid(amount, maxAmount) {
  const id = room.id;
  setResult('Sending…', true);
  try {
    const r = await client.bid(id, amount, { maxAmount });
    if (room?.id !== id) return;
    if (room.snap && r.seq >= room.snap.seq) Object.assign(room.snap, { min_next_bid: r.min_next_bid, current_price: r.current_price });
    if (r.leading === false) setResult(`Accepted, but another bidder's maximum is higher: now ${money(r.current_price)}`, false);
    else setResult(maxAmount != null ? `You lead at ${money(r.current_price)} (your maximum: ${money(r.max_amount ?? maxAmount)})` : `Bid accepted: ${money(r.amount)}`, true);
    $('bid-amount').value = String(r.min_next_bid);
    renderRoom();
  } catch (err) {
    if (err instanceof BidRejectedError) {
      setResult(`Rejected: ${err.message}`, false);
      if (err.minNextBid != null && room?.snap) {
        room.snap.min_next_bid = err.minNextBid;
        $('bid-amount').value = String(err.minNextBid);
        renderRoom();
      }
    } else {
      setResult(`Not placed: ${err.message}`, false);
    }
  }
}

async function buyNow() {
  const id = room.id;
  setResult('Buying…', true);
  try {
    const r = await client.buyNow(id);
    setResult(`Bought for ${money(r.amount)}`, true);
  } catch (err) {
    setResult(err instanceof BidRejectedError ? `Rejected: ${err.message}` : `Not bought: ${err.message}`, false);
    const snap = await client.getAuction(id).catch(() => undefined); // the offer may be gone: show what is
    if (snap && room?.id === id) onSnapshot({ auction_id: id, data: snap });
  }
}

// ---- start

function route() {
  const id = hashParams().get('auction');
  if (id) void openRoom(id);
  else if (room) closeRoom();
}

function start(token) {
  me = claims(token).sub ?? '';
  $('whoami').textContent = claims(token).name ?? `user ${shortId(me)}`;
  $('signin').hidden = true;
  $('main').hidden = false;
  $('signout').hidden = false;
  const conn = $('conn');
  const ws = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  client = new AuctionClient({ url: ws, token: () => sessionStorage.getItem(TOKEN_KEY) ?? '' });
  const showState = () => {
    conn.dataset.state = client.state;
    conn.textContent = client.state === 'open' ? 'live' : client.state;
  };
  client.on('connected', (e) => {
    showState();
    if (e.reconnect) void loadList();
  });
  client.on('disconnected', showState);
  client.on('bid_placed', onBidPlaced);
  client.on('auction_update', onSnapshot);
  for (const type of ['auction_started', 'auction_ended', 'auction_cancelled', 'auction_extended']) client.on(type, onStatus);
  client.on('outbid', (e) => outbidNotice(e.auction_id, e.data.seq ?? e.seq, e.data.current_price));
  client.on('error', (err) => console.warn('auction client:', err.code, err.message));
  client.connect().then(() => {
    showState();
    void loadList();
    route();
  }, (err) => {
    showState();
    showNotice(`Could not connect (${err.message}). Is the token valid?`);
    $('signin').hidden = false;
  });
  setInterval(tick, 250);
  setInterval(() => { if (client.state === 'open') void loadList(); }, 15_000);
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  location.reload();
});
$('signout').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  client?.close();
  location.hash = '';
  location.reload();
});
$('refresh').addEventListener('click', () => void loadList());
$('bid-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void placeBid($('bid-amount').value, undefined);
});
$('max-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void placeBid(undefined, $('max-amount').value);
});
$('buy-now').addEventListener('click', () => void buyNow());
$('notice').addEventListener('click', (ev) => { if (ev.target === $('notice')) $('notice').hidden = true; });
window.addEventListener('hashchange', () => { if (client) route(); });

const token = takeToken();
if (token) start(token);
else $('signin').hidden = false;
