// The auction service's client library: `new AuctionClient({ url, token })`. See docs/client.md.
export { AuctionClient } from './client.ts';
export type { BidOptions, ClientEvents, ClientOptions, ClientState, SocketConstructor, SocketLike } from './client.ts';
export { AuctionError, BidRejectedError, RequestFailedError } from './errors.ts';
export { ServerClock } from './clock.ts';
export { backoffDelay } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
export type * from './types.ts';
