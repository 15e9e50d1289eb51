/** WebSocket close codes of this protocol (docs/protocol.md). */
export const CLOSE = {
  normal: 1000, // a client closing for good
  goingAway: 1001, // server shutting down: reconnect elsewhere and resume
  tooBig: 1009, // frame over WS_MAX_FRAME_BYTES
  tryAgain: 1013, // a subscription could not be completed (database unreachable): reconnect and resume with since_seq
  tokenExpired: 4001, // the token's exp passed without an in-band `authenticate`: reconnect with a fresh token
  slowConsumer: 4008, // send buffer over WS_MAX_BUFFERED_BYTES: reconnect and resume with since_seq
  rateLimited: 4029, // kept sending far over the rate limit
} as const;
