/**
 * The SSE and long-poll endpoints: many channels over one HTTP stream (or a
 * series of held requests), resumable with a per-stream cursor.
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
 *
 * `GET {path}/poll?channel=a&cursor=a%3D5.E1` answers
 * `{"cursor":"a=6.E1","events":[{"type":"publication","channel":"a","seq":6,"data":…}]}`
 * at once when something is newer than the cursor, otherwise holds the
 * request until something is or `limits.pollTimeoutMs` passes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { channelIdProblem, decodeCursor, encodeCursor, ErrorCode, formatSseEvent, type ChannelErrorEvent, type Cursor, type PollEvent, type ResetReason } from '@rxmux/core/protocol';
import type { Engine, EnginePublication } from './engines/engine.js';
import { corsHeaders, refuseRequest } from './http.js';
import { streamEvent, type Hub, type OutgoingPublication, type Subscriber } from './hub.js';
import type { Limits } from './limits.js';
import type { ChannelAction, ConnectionInfo } from './types.js';

/** A channel of an SSE / poll request that was refused; the others carry on. */
export type ChannelError = ChannelErrorEvent;

/** Something the server must end on shutdown and may ping. */
export interface Endable {
  end(code: number, reason: string): void;
  ping(): void;
}

/** What the endpoints need from the server. */
export interface StreamHost<P> {
  readonly limits: Limits;
  readonly engine: Engine;
  readonly hub: Hub;
  authorize(principal: P, channel: string, action: ChannelAction): boolean | Promise<boolean>;
  join(channel: string, info: ConnectionInfo<P>): void;
  leave(channel: string, info: ConnectionInfo<P>): void;
  opened(stream: Endable, info: ConnectionInfo<P> | undefined): void;
  ended(stream: Endable, info: ConnectionInfo<P> | undefined, code: number, reason: string): void;
  slowConsumer(info: ConnectionInfo<P>, buffered: number): void;
  error(error: unknown, info?: ConnectionInfo<P>): void;
}

/** Splits requested channels into accepted ones and refusals (invalid, over the limit, forbidden). */
async function admitChannels<P>(host: StreamHost<P>, principal: P, names: readonly string[]): Promise<{ channels: string[]; errors: ChannelError[] }> {
  const channels: string[] = [];
  const errors: ChannelError[] = [];
  const candidates: string[] = [];
  for (const channel of names) {
    const problem = channelIdProblem(channel);
    if (problem !== undefined) errors.push({ channel: channel.slice(0, 64), code: ErrorCode.InvalidChannel, message: problem });
    else if (candidates.length >= host.limits.maxChannelsPerConnection) {
      errors.push({ channel, code: ErrorCode.TooManyChannels, message: `at most ${host.limits.maxChannelsPerConnection} channels per stream` });
    } else candidates.push(channel);
  }
  const verdicts = await Promise.all(candidates.map((c) => host.authorize(principal, c, 'subscribe')));
  candidates.forEach((channel, i) => {
    if (verdicts[i] === true) channels.push(channel);
    else errors.push({ channel, code: ErrorCode.Forbidden, message: `not allowed to subscribe to ${channel}` });
  });
  return { channels, errors };
}

/** A catch-up event and the history epoch it belongs to (the cursor records both). */
interface CaughtUp {
  readonly event: PollEvent & { readonly type: 'publication' | 'reset' };
  readonly epoch: string;
}

/**
 * Where each channel starts: replayed history, or now for channels new to the
 * cursor. A `reset` comes first when the history cannot cover the gap
 * (`'history'`) or the cursor's epoch is not the channel's (`'epoch'`: a
 * restarted memory engine, a forgotten history, a cursor without epoch); the
 * replay then goes on with what the history still holds.
 */
async function catchUp(engine: Engine, limits: Limits, channels: readonly string[], cursor: Cursor): Promise<CaughtUp[]> {
  const caught: CaughtUp[] = [];
  const histories = await Promise.all(
    channels.map(async (c) => {
      const since = cursor.get(c);
      const history = await engine.history(c, since?.seq ?? 0, since === undefined ? 0 : limits.historySize);
      // Another epoch: the cursor's seq means nothing here, so read the new epoch from its start.
      return since === undefined || since.epoch === history.epoch ? history : engine.history(c, 0, limits.historySize);
    }),
  );
  channels.forEach((channel, i) => {
    const history = histories[i];
    if (history === undefined) return;
    const since = cursor.get(channel);
    const { epoch } = history;
    if (since === undefined) {
      cursor.set(channel, { seq: history.last, epoch }); // a new channel starts from now
      return;
    }
    if (since.epoch !== epoch || !history.complete) {
      const first = history.publications[0];
      const seq = first === undefined ? history.last : first.seq - 1;
      const reason = since.epoch !== epoch ? 'epoch' : 'history';
      caught.push({ event: { type: 'reset', channel, seq, epoch, reason }, epoch }); // the reader moves its cursor when it passes the reset on
    }
    for (const p of history.publications) caught.push({ event: { type: 'publication', ...streamEvent(p) }, epoch });
  });
  return caught;
}

/** The `reset` event's JSON (SSE `data:`). */
const resetData = (channel: string, seq: number, epoch: string, reason: ResetReason): string => JSON.stringify({ channel, seq, epoch, reason });

const randomId = (prefix: string): string => `${prefix}-${randomBytes(9).toString('base64url')}`;

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

/** One EventSource connection carrying many channels. */
class SseStream<P> implements Subscriber, Endable {
  readonly info: ConnectionInfo<P>;
  /** Publications that arrived while history was being replayed. */
  private pending: EnginePublication[] | undefined = [];
  private corked = false;
  private ended = false;
  private channels: readonly string[] = [];

  constructor(
    private readonly host: StreamHost<P>,
    private readonly res: ServerResponse,
    principal: P,
    private readonly cursor: Cursor,
  ) {
    this.info = { session: randomId('sse'), principal, transport: 'sse' };
  }

  async start(request: IncomingMessage, channels: readonly string[], errors: readonly ChannelError[]): Promise<void> {
    this.channels = channels;
    for (const channel of channels) this.host.hub.add(channel, this);
    for (const known of [...this.cursor.keys()]) if (!channels.includes(known)) this.cursor.delete(known);
    let replay: CaughtUp[];
    try {
      replay = await catchUp(this.host.engine, this.host.limits, channels, this.cursor);
    } catch (error) {
      this.host.error(error, this.info);
      this.release();
      refuseRequest(this.res, 500, ErrorCode.Remote, 'history unavailable');
      return;
    }
    if (this.ended) return;
    this.res.writeHead(200, { ...SSE_HEADERS, ...corsHeaders(request) });
    for (const channel of channels) this.host.join(channel, this.info);
    this.host.opened(this, this.info);
    const ready = JSON.stringify({ stream: this.info.session, channels });
    this.write(`retry: ${this.host.limits.sseRetryMs}\n${formatSseEvent('ready', ready, encodeCursor(this.cursor))}`);
    for (const error of errors) this.write(formatSseEvent('channel-error', JSON.stringify(error)));
    for (const { event, epoch } of replay) {
      if (event.type === 'reset') this.reset(event.channel, event.seq, epoch, event.reason);
      else this.emitJson(event.channel, event.seq, epoch, streamEventOf(event));
    }
    const pending = this.pending ?? [];
    this.pending = undefined;
    for (const p of pending) this.emitJson(p.channel, p.seq, p.epoch, streamEvent(p));
  }

  deliver(out: OutgoingPublication): void {
    if (this.pending !== undefined) this.pending.push(out.publication);
    else this.emit(out.channel, out.publication.seq, out.publication.epoch, out.sseData);
  }

  ping(): void {
    if (this.pending === undefined) this.write(': ping\n\n');
  }

  end(code: number, reason: string): void {
    if (this.ended) return;
    this.closed(code, reason);
    this.res.end();
  }

  /** The client went away (or we ended the response). */
  closed(code: number, reason: string): void {
    if (this.ended) return;
    const started = this.pending === undefined;
    this.release();
    if (started) {
      for (const channel of this.channels) this.host.leave(channel, this.info);
      this.host.ended(this, this.info, code, reason);
    }
  }

  private release(): void {
    this.ended = true;
    this.pending = undefined;
    for (const channel of this.channels) this.host.hub.remove(channel, this);
  }

  private emitJson(channel: string, seq: number, epoch: string, event: ReturnType<typeof streamEvent>): void {
    let data: string;
    try {
      data = JSON.stringify(event);
    } catch (error) {
      return this.host.error(error, this.info);
    }
    this.emit(channel, seq, epoch, data);
  }

  private emit(channel: string, seq: number, epoch: string, data: string): void {
    const last = this.cursor.get(channel);
    if (last !== undefined && last.epoch === epoch && seq <= last.seq) return; // already sent (replay and live overlap)
    if (last !== undefined && last.epoch !== epoch) this.reset(channel, seq - 1, epoch, 'epoch'); // the engine started a new history
    this.cursor.set(channel, { seq, epoch });
    this.write(formatSseEvent('publication', data, encodeCursor(this.cursor)));
  }

  private reset(channel: string, seq: number, epoch: string, reason: ResetReason): void {
    this.cursor.set(channel, { seq, epoch });
    this.write(formatSseEvent('reset', resetData(channel, seq, epoch, reason), encodeCursor(this.cursor)));
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
          this.closed(1008, 'slow consumer');
          this.res.destroy();
        }
      });
    }
    this.res.write(chunk);
  }
}

function streamEventOf(event: PollEvent & { type: 'publication' }): ReturnType<typeof streamEvent> {
  const { type: _type, ...rest } = event;
  return rest;
}

/** One held long-poll request. */
class Poll<P> implements Subscriber, Endable {
  private events: PollEvent[] = [];
  /** Live publications that arrived while catching up. */
  private live: EnginePublication[] = [];
  private holding = true;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;

  constructor(
    private readonly host: StreamHost<P>,
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    private readonly channels: readonly string[],
    private readonly cursor: Cursor,
  ) {}

  async start(errors: readonly ChannelError[]): Promise<void> {
    for (const channel of this.channels) this.host.hub.add(channel, this);
    for (const known of [...this.cursor.keys()]) if (!this.channels.includes(known)) this.cursor.delete(known);
    let caught: CaughtUp[];
    try {
      caught = await catchUp(this.host.engine, this.host.limits, this.channels, this.cursor);
    } catch (error) {
      this.host.error(error);
      this.release();
      refuseRequest(this.res, 500, ErrorCode.Remote, 'history unavailable');
      return;
    }
    if (!this.holding) return;
    const live = this.live;
    this.live = [];
    this.events = [...errors.map((e): PollEvent => ({ type: 'channel-error', ...e })), ...caught.map((c) => c.event)];
    for (const { event, epoch } of caught) this.cursor.set(event.channel, { seq: event.seq, epoch });
    for (const p of live) this.add(p);
    if (this.events.length > 0) return this.end();
    this.host.opened(this, undefined);
    this.timer = setTimeout(() => this.end(), this.host.limits.pollTimeoutMs);
  }

  deliver(out: OutgoingPublication): void {
    if (!this.holding) return;
    if (this.timer === undefined) {
      this.live.push(out.publication); // still catching up: sorted out in start()
      return;
    }
    this.add(out.publication);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.end()); // gather what else arrives in this turn
    }
  }

  ping(): void {}

  /** Answers with what was collected. */
  end(): void {
    if (!this.holding) return;
    const wasHeld = this.timer !== undefined;
    this.release();
    if (wasHeld) this.host.ended(this, undefined, 1000, 'answered');
    const body = `{"cursor":${JSON.stringify(encodeCursor(this.cursor))},"events":[${this.events.map(eventJson).join(',')}]}`;
    this.res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...this.headers });
    this.res.end(body);
  }

  /** The client gave up waiting. */
  abandon(): void {
    if (!this.holding) return;
    const wasHeld = this.timer !== undefined;
    this.release();
    if (wasHeld) this.host.ended(this, undefined, 1001, 'client left');
  }

  private add(p: EnginePublication): void {
    const last = this.cursor.get(p.channel);
    if (last !== undefined && last.epoch === p.epoch && p.seq <= last.seq) return;
    if (last !== undefined && last.epoch !== p.epoch) {
      this.events.push({ type: 'reset', channel: p.channel, seq: p.seq - 1, epoch: p.epoch, reason: 'epoch' }); // the engine started a new history
    }
    this.cursor.set(p.channel, { seq: p.seq, epoch: p.epoch });
    this.events.push({ type: 'publication', ...streamEvent(p) });
  }

  private release(): void {
    this.holding = false;
    clearTimeout(this.timer);
    for (const channel of this.channels) this.host.hub.remove(channel, this);
  }
}

/** One poll event as JSON; a publication whose data cannot be encoded (too deep) becomes a channel-error. */
function eventJson(event: PollEvent): string {
  try {
    return JSON.stringify(event);
  } catch {
    return JSON.stringify({ type: 'channel-error', channel: event.channel, code: ErrorCode.InvalidField, message: 'a publication could not be encoded' });
  }
}

/** Serves `GET {path}/sse`. The request is already authenticated and origin-checked. */
export async function serveSse<P>(host: StreamHost<P>, request: IncomingMessage, res: ServerResponse, url: URL, names: readonly string[], principal: P): Promise<void> {
  const lastEventId = request.headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? undefined;
  const cursor = decodeCursor(Array.isArray(lastEventId) ? lastEventId[0] : lastEventId, host.limits.maxChannelsPerConnection);
  const { channels, errors } = await admitChannels(host, principal, names);
  const stream = new SseStream(host, res, principal, cursor);
  res.on('close', () => stream.closed(1000, 'client closed'));
  if (res.destroyed) return;
  await stream.start(request, channels, errors);
}

/** Serves `GET {path}/poll`. The request is already authenticated and origin-checked. */
export async function servePoll<P>(host: StreamHost<P>, request: IncomingMessage, res: ServerResponse, url: URL, names: readonly string[], principal: P): Promise<void> {
  const cursor = decodeCursor(url.searchParams.get('cursor') ?? undefined, host.limits.maxChannelsPerConnection);
  const { channels, errors } = await admitChannels(host, principal, names);
  const poll = new Poll(host, res, corsHeaders(request), channels, cursor);
  res.on('close', () => poll.abandon());
  if (res.destroyed) return;
  await poll.start(errors);
}
