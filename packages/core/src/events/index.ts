/**
 * `@rxmux/core/events`: server-sent channels over the page's single
 * EventSource (or one long-poll loop where `EventSource` is missing), next to
 * a connection's WebSocket channels.
 *
 * A subpath of its own so that a page that never uses them never bundles
 * them: `connect()` and `channel()` do not reference the event stream, and
 * the SSE and long-poll code (about a quarter of the client) is tree-shaken
 * away unless `events()` is imported.
 *
 * ```
 *  events(conn, 'a') ─┐
 *  events(conn, 'b') ─┴─▶ the connection's one EventStreams (created on first use, ended by conn.close())
 *                          ──▶ EventSource GET {url}/sse?channel=a&channel=b   (or GET {url}/poll)
 * ```
 *
 * @example
 * import { connect } from '@rxmux/core';
 * import { events } from '@rxmux/core/events';
 * const conn = connect('wss://example.com/rt');
 * events<Score>(conn, 'match-score').subscribe((score) => render(score));
 * @packageDocumentation
 */
import { firstValueFrom, type Observable } from 'rxjs';
import type { Connection } from '../connection/connection.js';
import { STREAM_HOST } from '../connection/connection.js';
import { EventStreams } from '../connection/event-streams.js';
import type { GapNotice } from '../channel/positions.js';
import { InvalidArgumentError } from '../errors.js';
import { ErrorCode, RxmuxError } from '../protocol/errors.js';
import { channelIdProblem } from '../protocol/fields.js';
import type { JsonValue } from '../protocol/frames.js';
import { TICKET_CHANNEL } from '../protocol/sse.js';

export type { EventSourceConstructor, EventSourceLike, EventStreamOptions, FetchLike } from '../sse/index.js';

/** Each connection's event streams, created on first use. */
const streams = new WeakMap<Connection, EventStreams>();

function streamsOf(conn: Connection): EventStreams {
  const host = conn[STREAM_HOST](); // throws ConnectionClosedError after close()
  let found = streams.get(conn);
  if (found === undefined) {
    found = new EventStreams({ ...host, ticket: host.token ? () => ticket(conn) : undefined });
    streams.set(conn, found);
  }
  return found;
}

/** A single-use ticket for the SSE / long-poll endpoints, asked of the server over the WebSocket (PROTOCOL.md 14.1). */
async function ticket(conn: Connection): Promise<string> {
  const answer = await firstValueFrom(conn.channel(TICKET_CHANNEL).request(null));
  const value = typeof answer === 'object' && answer !== null && !Array.isArray(answer) ? answer.ticket : undefined;
  if (typeof value !== 'string') throw new RxmuxError(ErrorCode.Unauthorized, 'the server answered no ticket');
  return value;
}

/**
 * The server-sent channel `id` of `conn`, carried by the page's single
 * EventSource (created on first use, shared by every `events()` channel of
 * this connection), or by one long-poll loop where `EventSource` is missing or
 * `eventStream.forceLongPoll` is set (`connect()` options). Hot and
 * ref-counted like `conn.channel()`; resumes with `Last-Event-ID` after a
 * reconnect. Receive-only: send over `conn.channel(id)`. Emits the channel's
 * JSON publications, typed `T` (not checked at run time); with
 * `{ binary: true }`, its binary ones instead. With a `token`, the stream
 * authenticates with single-use tickets the WebSocket obtains (no token in a
 * URL). Throws `InvalidArgumentError` for an invalid id and
 * `ConnectionClosedError` after `conn.close()`; completes when the
 * connection closes.
 *
 * @example
 * import { events } from '@rxmux/core/events';
 * events<Score>(conn, 'match-score').subscribe((score) => render(score));
 * events(conn, 'match-audio', { binary: true }).subscribe((bytes) => play(bytes));
 */
export function events<T = JsonValue>(conn: Connection, id: string): Observable<T>;
export function events(conn: Connection, id: string, options: { readonly binary: true }): Observable<Uint8Array>;
export function events<T>(conn: Connection, id: string, options?: { readonly binary: true }): Observable<T | Uint8Array> {
  const found = streamsOf(conn);
  const problem = channelIdProblem(id);
  if (problem !== undefined) throw new InvalidArgumentError(problem);
  return found.events<T>(id, options?.binary === true);
}

/**
 * Gap notices of `conn`'s `events()` channels: what the server could not
 * replay after the EventSource reconnected (a `reset` event), as
 * `channel.gaps$` tells them for WebSocket channels.
 *
 * @example
 * eventGaps(conn).subscribe((gap) => refetch(gap.channel));
 */
export function eventGaps(conn: Connection): Observable<GapNotice> {
  return streamsOf(conn).gaps$;
}
