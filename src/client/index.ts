// The auction service's client library: `new AuctionClient({ url, token })`. See docs/client.md.
export { AuctionClient } from './client.ts';
export type { BidOptions, ClientEvents, ClientOptions, ClientState, SocketConstructor, SocketLike } from './client.ts';
export { AuctionSubscription } from './subscription.ts';
export type { AuctionEvent, StatusEvent, SubscriptionEvents, SubscriptionState } from './subscription.ts';
export { AuctionError, BidRejectedError, RequestFailedError } from './errors.ts';
export { ServerClock } from './clock.ts';
export { backoffDelay } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
export { CLOSE } from '../protocol/close-codes.ts';
// the wire contract, as the server sends and takes it
export type * from '../protocol/messages.ts';
export type { CreateAuctionRequest, ListAuctionsRequest, ListBidsRequest, PlaceBidRequest } from '../protocol/requests.ts';
