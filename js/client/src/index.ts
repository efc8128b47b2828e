export {
  Bus,
  Client,
  HalleyError,
  Latest,
  Listening,
  Subscription,
  type ClientEvents,
  type ClientOptions,
  type End,
  type Gap,
  type Message,
  type Notification,
  type Presence,
  type PresenceEvent,
  type Stats,
  type SubscribeOptions,
} from './client.js';
export { checkFrame, formatCursor, parseCursor, parseFrame, splitFrames, tokenExpiry, type Frame, type Position } from './frames.js';
export { backoff, next, retryAfter, type State, type Step, type Transport } from './state.js';
