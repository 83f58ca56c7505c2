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
import { CloseCode, decodeCursor, encodeCursor, ErrorCode, formatSseEvent, type Cursor, type ResetReason } from '@rxmux/core/protocol';
import type { OutgoingPublication, Subscriber } from '../core/hub.js';
import { ReplayGate, type GateOutput } from '../core/replay-gate.js';
import type { Endable, StreamHost } from '../core/server-core.js';
import type { ConnectionInfo } from '../types.js';
import { admitChannels, catchUp, streamReader, type ChannelError, type StreamClient } from './channels.js';
import { refuseRequest } from './errors.js';

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** One EventSource connection carrying many channels. */
class SseStream<P> implements Subscriber, Endable, GateOutput {
  readonly info: ConnectionInfo<P>;
  private readonly gate: ReplayGate;
  /** Whether the stream started (headers, presence, `ready`): until then nothing is written, nothing pinged. */
  private live = false;
  private corked = false;
  private ended = false;
  private channels: readonly string[] = [];

  constructor(
    private readonly host: StreamHost<P>,
    private readonly res: ServerResponse,
    principal: P,
    cursor: Cursor,
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
    const ready = JSON.stringify({ stream: this.info.session, channels });
    this.write(`retry: ${this.host.limits.sseRetryMs}\n${formatSseEvent('ready', ready, encodeCursor(this.gate.positions))}`);
    for (const error of errors) this.write(formatSseEvent('channel-error', JSON.stringify(error)));
    for (const channel of channels) this.gate.release(channel);
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
    this.write(formatSseEvent('reset', JSON.stringify({ channel, seq, epoch, reason }), encodeCursor(this.gate.positions)));
  }

  publication(out: OutgoingPublication): void {
    let data: string;
    try {
      data = out.sseData;
    } catch (error) {
      return this.host.error(error, this.info);
    }
    this.write(formatSseEvent('publication', data, encodeCursor(this.gate.positions)));
  }

  ping(): void {
    if (this.live) this.write(': ping\n\n');
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
    for (const channel of this.channels) this.host.unsubscribe(channel, this);
  }

  /** Events written in one turn of the event loop leave in one write (cork until a microtask). */
  private write(chunk: string): void {
    if (this.ended) return;
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      queueMicrotask(() => {
        this.corked = false;
        this.res.uncork();
        const buffered = this.res.writableLength;
        if (buffered > this.host.limits.slowConsumerBytes && !this.ended) {
          this.host.slowConsumer(this.info, buffered);
          this.closed(CloseCode.PolicyViolation, 'slow consumer');
          this.res.destroy();
        }
      });
    }
    this.res.write(chunk);
  }
}

/** Serves `GET {path}/sse`. The request is already through the door. */
export async function serveSse<P>(host: StreamHost<P>, request: IncomingMessage, res: ServerResponse, url: URL, names: readonly string[], client: StreamClient<P>): Promise<void> {
  const { principal } = client;
  const lastEventId = request.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? undefined;
  const cursor = decodeCursor(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, host.limits.maxChannelsPerConnection);
  const { channels, errors } = await admitChannels(host, principal, names);
  const stream = new SseStream(host, res, principal, cursor);
  res.on('close', () => stream.closed(CloseCode.Normal, 'client closed'));
  if (res.destroyed) return;
  await stream.start(client.headers, channels, errors);
}
