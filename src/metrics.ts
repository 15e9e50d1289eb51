import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

// One registry per process; every module increments the metrics it owns from here.
// The default metrics include the event-loop delay (nodejs_eventloop_lag_p99_seconds, ..._max_seconds, over the
// time since the last scrape, sampled every 10 ms so never below 0.01): a fan-out that hogs the loop shows there.
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const metrics = {
  connections: new Gauge({ name: 'auction_ws_connections', help: 'open WebSocket connections', registers: [registry] }),
  subscriptions: new Gauge({ name: 'auction_ws_subscriptions', help: 'auction subscriptions over all sockets', registers: [registry] }),
  listenChannels: new Gauge({ name: 'auction_listen_channels', help: 'channels this instance LISTENs on', registers: [registry] }),
  bids: new Counter({ name: 'auction_bids_total', help: 'bids processed, by outcome', labelNames: ['outcome'] as const, registers: [registry] }),
  bidLatency: new Histogram({
    name: 'auction_bid_seconds', help: 'place_bid round trip to the database',
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] }),
  bidBatchSize: new Histogram({
    name: 'auction_bid_batch_size', help: 'bids per group-commit transaction',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128], registers: [registry] }),
  notifyLag: new Histogram({
    name: 'auction_notify_to_send_seconds', help: 'from commit time in the event to the socket send',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] }),
  jobLag: new Histogram({
    name: 'auction_job_lag_seconds', help: 'how late a start/end job ran after its scheduled time',
    labelNames: ['kind'] as const, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] }),
  fanoutMessages: new Counter({
    name: 'auction_fanout_messages_total', help: 'auction events serialized for this instance\'s subscribers (once per event, whatever their number)',
    registers: [registry] }),
  fanoutSends: new Counter({ name: 'auction_fanout_sends_total', help: 'auction events written to subscriber sockets', registers: [registry] }),
  wsMessages: new Counter({ name: 'auction_ws_messages_total', help: 'inbound WebSocket messages, by type', labelNames: ['type'] as const, registers: [registry] }),
  wsErrors: new Counter({ name: 'auction_ws_errors_total', help: 'error replies and closes, by code', labelNames: ['code'] as const, registers: [registry] }),
};
