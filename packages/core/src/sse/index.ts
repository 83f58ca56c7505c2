/**
 * `events<T>(conn, id)` transport (`@rxmux/core/events`): many channels on ONE EventSource (or one
 * long-poll loop where `EventSource` is missing, e.g. Tauri, or when forced),
 * against the rxmux server's `{path}/sse` and `{path}/poll` endpoints.
 *
 * ```
 *  events('a') ─┐                                   ┌─▶ filter a ─▶ subscriber
 *  events('b') ─┼─▶ channel set ─▶ debounce ─▶ switchMap(open stream for [a,b]) ─▶ share
 *               │   (ref counts)               (resumes with the last cursor)
 * ```
 *
 * A change of the channel set reopens the stream with the new list after a
 * short debounce, passing the last cursor so nothing published during the
 * switch is lost. No rxjs-free code here: everything is an operator pipeline.
 * @packageDocumentation
 */
export type { EventSourceConstructor, EventSourceLike, EventStreamOptions, FetchLike } from './event-stream.js';
/** @internal */
export {
  createEventStream,
  DEFAULT_EVENT_STREAM,
  type EventStream,
  type EventStreamObserver,
  type EventStreamState,
  type StreamReset,
} from './event-stream.js';
