// What another TypeScript project sees of the client library: built JavaScript and .d.ts through the
// package's "exports" (no .ts paths). test/client/package.test.ts type-checks this file against dist/lib.
import { AuctionClient, type AuctionSnapshot, type BidPlacedData, type CreateAuctionRequest } from 'auction-service/client';

export async function firstBid(url: string, token: string, auctionId: string): Promise<BidPlacedData> {
  const client = new AuctionClient({ url, token });
  await client.connect();
  const sub = client.subscribe(auctionId);
  const snap: AuctionSnapshot = await sub.ready;
  const request: CreateAuctionRequest = { item: { name: snap.item_name }, start_time: snap.start_time, end_time: snap.end_time, starting_price: 1 };
  void request;
  return new Promise((resolve) => sub.once('bid', (e) => { client.close(); resolve(e.data); }));
}
