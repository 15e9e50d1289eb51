import type { AuctionSnapshot, AuctionStatus, StatusMessage } from './messages.ts';

/** What a watcher last knew of an auction's status and end. */
export type KnownStatus = { status: AuctionStatus; end_time: string };

/**
 * The status events a watcher missed, from what it knew before and a fresh snapshot: the server's feed
 * uses it after its LISTEN connection came back, the client after it reconnected. `timestamp` is when
 * the change was found out; the events' `time` is the same instant.
 */
export function missedStatusEvents(prev: KnownStatus, snap: AuctionSnapshot, timestamp: number): StatusMessage[] {
  const base = { auction_id: snap.auction_id, seq: snap.seq, timestamp };
  const time = new Date(timestamp).toISOString();
  const out: StatusMessage[] = [];
  if (prev.status === 'pending' && (snap.status === 'active' || snap.status === 'ended')) {
    out.push({ ...base, type: 'auction_started', data: { status: 'active', end_time: snap.end_time, time } });
  }
  if (snap.status === prev.status && snap.end_time !== prev.end_time) {
    out.push({ ...base, type: 'auction_extended', data: { status: snap.status, end_time: snap.end_time, time } });
  }
  if (snap.status === 'ended' && prev.status !== 'ended') {
    out.push({ ...base, type: 'auction_ended', data: {
      status: 'ended', winner_id: snap.winner_id, winner_name: snap.winner_name, final_price: snap.seq > 0 ? snap.current_price : null,
      reserve_met: snap.reserve_met, reason: snap.end_reason, end_time: snap.end_time, time } });
  }
  if (snap.status === 'cancelled' && prev.status !== 'cancelled') {
    out.push({ ...base, type: 'auction_cancelled', data: { status: 'cancelled', reason: snap.cancel_reason, end_time: snap.end_time, time } });
  }
  return out;
}
