/**
 * `GET {path}/sse`: many channels over one EventSource, resumable with a
 * per-stream cursor (PROTOCOL.md 14.6). The replay gate decides what is
 * written; this file formats it as SSE events.
 *
 * ```
 * GET {path}/sse?channel=a&channel=b           (or ?channels=a,b)
 * Last-Event-ID: a=5.E1,b=7.E2                 (sent by EventSource on reconnect; E1, E2: history epochs)
 *
 * retry: 2000
 * id: a=5.E1,b=7.E2
 * event: ready
 * data: {"stream":"sse-…","channels":["a","b"]}
 *
 * id: a=6.E1,b=7.E2
 * event: publication
 * data: {"channel":"a","seq":6,"data":{"score":1}}
 *
 * : ping
 * ```
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode, decodeCursor, ErrorCode, formatSseEvent, type Cursor, type ResetReason } from '@rxmux/core/protocol';
import type { Backlogged, CutReason } from '../core/backlog.js';
import type { OutgoingPublication, Subscriber } from '../core/hub.js';
import { ReplayGate, type GateOutput } from '../core/replay-gate.js';
import type { Endable, StreamHost } from '../core/stream-host.js';
import type { ConnectionInfo } from '../types.js';
import { admitChannels, catchUp, streamReader, type ChannelError, type StreamClient } from './channels.js';
import { refuseRequest } from './errors.js';
import { resetData, StreamQueue, type StreamEvent } from './stream-queue.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/**
 * Bytes one stream writes per turn of the event loop at most: a replay
 * leaves in pieces, other clients get their turn in between, and the
 * response never buffers more than its high-water mark and one event.
 */
export const SSE_PIECE_BYTES = 64 * 1024;

/** One EventSource connection carrying many channels. */
class SseStream<P> implements Subscriber, Endable, GateOutput, Backlogged {
  readonly info: ConnectionInfo<P>;
  private readonly gate: ReplayGate;
  /** What the client is owed, and the cursor of what it was given. */
  private readonly queue = new StreamQueue();
  /** Whether the stream started (headers, presence, `ready`): until then nothing is written, nothing pinged. */
  private live = false;
  /** A pump is due (next turn, when the response drains, or when the replay budget allows). */
  private pumping = false;
  /** The pump waiting for the address's replay budget. */
  private waiting: NodeJS.Timeout | undefined;
  private ended = false;
  private channels: readonly string[] = [];

  constructor(
    private readonly host: StreamHost<P>,
    private readonly res: ServerResponse,
    principal: P,
    cursor: Cursor,
    /** Charges replayed bytes to the client's address (`limits.replayBytesPerSecond`). */
    private readonly replay: StreamClient<P>['replay'],
  ) {
    this.info = { session: `sse-${randomBytes(9).toString('base64url')}`, principal, transport: 'sse' };
    this.gate = new ReplayGate(this, 'remaining', streamReader(host), cursor);
  }

  async start(headers: Record<string, string>, channels: readonly string[], errors: readonly ChannelError[]): Promise<void> {
    this.channels = channels;
    try {
      await catchUp(this.host, this.gate, this, channels);
    } catch (error) {
      this.host.error(error, this.info);
      this.release();
      refuseRequest(this.res, 500, ErrorCode.Remote, 'history unavailable');
      return;
    }
    if (this.ended) return;
    this.res.writeHead(200, { ...SSE_HEADERS, ...headers });
    for (const channel of channels) this.host.join(channel, this.info);
    this.host.opened(this, this.info);
    this.live = true;
    this.queue.start(this.gate.positions);
    const ready = JSON.stringify({ stream: this.info.session, channels });
    this.write(`retry: ${this.host.limits.sseRetryMs}\n${formatSseEvent('ready', ready, this.queue.encoded())}`);
    for (const error of errors) this.write(formatSseEvent('channel-error', JSON.stringify(error)));
    for (const channel of channels) this.gate.release(channel); // the replay, queued: written from the next turn on, in pieces
  }

  deliver(out: OutgoingPublication): void {
    this.gate.deliver(out);
  }

  /** {@link Subscriber}: the engine may have missed publications: replay what the stream missed, or a `reset`. */
  resync(channel: string): void {
    if (!this.ended) this.gate.resync(channel);
  }

  /** {@link GateOutput}: the re-read failed: the stream ends, and EventSource resumes from its cursor. */
  failed(_channel: string, error: unknown): void {
    this.host.error(error, this.info);
    this.end(CloseCode.InternalError, 'history unavailable');
  }

  /** {@link GateOutput}: `ready` already carried where each channel starts. */
  joined(): void {
    // nothing to write: `ready` carried the cursor
  }

  reset(channel: string, epoch: string, seq: number, reason: ResetReason): void {
    this.enqueue({ kind: 'reset', channel, epoch, seq, reason });
  }

  publication(out: OutgoingPublication, replayed: boolean): void {
    try {
      if (out.sseData.length === 0) return; // encoded now: data that cannot be (too deep) costs only itself
    } catch (error) {
      return this.host.error(error, this.info);
    }
    this.enqueue({ kind: 'publication', out, live: !replayed });
  }

  ping(): void {
    if (this.live) this.write(': ping\n\n');
  }

  /** {@link Backlogged}: what the response has not sent yet, and the live events still queued. */
  get buffered(): number {
    return this.res.writableLength + this.queue.liveBytes;
  }

  /** {@link Backlogged}: a slow consumer: the response is destroyed, its buffers let go. */
  cut(buffered: number, reason: CutReason): void {
    if (this.ended) return;
    this.host.slowConsumer(this.info, buffered);
    this.closed(CloseCode.PolicyViolation, reason);
    this.res.destroy();
  }

  end(code: number, reason: string): void {
    if (this.ended) return;
    this.closed(code, reason);
    this.res.end();
  }

  /** The client went away (or we ended the response). */
  closed(code: number, reason: string): void {
    if (this.ended) return;
    this.release();
    if (!this.live) return;
    for (const channel of this.channels) this.host.leave(channel, this.info.session);
    this.host.ended(this, this.info, code, reason);
  }

  private release(): void {
    this.ended = true;
    clearTimeout(this.waiting);
    this.queue.clear();
    this.host.backlog.forget(this);
    for (const channel of this.channels) this.host.unsubscribe(channel, this);
  }

  private enqueue(event: StreamEvent): void {
    if (this.ended) return;
    this.queue.push(event);
    if (this.live && !this.pumping) {
      this.pumping = true;
      setImmediate(() => this.pump());
    }
    // Live events wait here as long as the client is behind: they count towards its bound (the backlog may cut it now).
    if (event.kind === 'publication' && event.live) this.host.backlog.wrote(this, event.out.sseData.length);
  }

  /**
   * Writes queued events, in one corked write: at most {@link SSE_PIECE_BYTES}
   * this turn, only while the response takes them without buffering, and
   * replayed ones only while the address's replay budget pays for them; the
   * rest goes on when it drains, when the budget allows, or next turn.
   */
  private pump(): void {
    this.pumping = false;
    this.waiting = undefined;
    if (this.ended) return;
    let written = 0;
    let entered = 0;
    let full = false;
    let wait = 0;
    this.res.cork();
    while (written < SSE_PIECE_BYTES && !full) {
      const next = this.queue.peek();
      if (next === undefined) break;
      wait = next.kind === 'publication' && !next.live ? this.replay(next.out.sseData.length) : 0;
      if (wait > 0) break;
      const event = this.queue.take();
      if (event === undefined) break;
      const text = this.format(event);
      written += text.length;
      entered += event.kind === 'publication' && event.live ? text.length - event.out.sseData.length : text.length;
      full = !this.res.write(text);
    }
    this.res.uncork();
    if (this.queue.length > 0) {
      this.pumping = true;
      if (full) this.res.once('drain', () => this.pump());
      else if (wait > 0) this.waiting = setTimeout(() => this.pump(), wait);
      else setImmediate(() => this.pump());
    }
    if (written > 0) this.host.backlog.wrote(this, Math.max(0, entered)); // may cut it: the next pump then finds it ended
  }

  /** An event as SSE text, its `id:` the cursor after it (the queue moved it when the event was taken). */
  private format(event: StreamEvent): string {
    if (event.kind === 'reset') return formatSseEvent('reset', resetData(event), this.queue.encoded());
    return formatSseEvent('publication', event.out.sseData, this.queue.encoded());
  }

  /** Writes directly (the opening, pings), after what the response holds. */
  private write(chunk: string): void {
    if (this.ended) return;
    this.res.write(chunk);
  }
}

/** Serves `GET {path}/sse`. The request is already through the door. */
export async function serveSse<P>(host: StreamHost<P>, request: IncomingMessage, res: ServerResponse, url: URL, names: readonly string[], client: StreamClient<P>): Promise<void> {
  const { principal } = client;
  const lastEventId = request.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? undefined;
  const cursor = decodeCursor(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, host.limits.maxChannelsPerConnection);
  const { channels, errors } = await admitChannels(host, principal, names);
  const stream = new SseStream(host, res, principal, cursor, client.replay);
  res.on('close', () => stream.closed(CloseCode.Normal, 'client closed'));
  if (res.destroyed) return;
  await stream.start(client.headers, channels, errors);
}
