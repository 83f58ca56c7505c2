/**
 * `GET {path}/poll`: the long-poll fallback (PROTOCOL.md 14.7). The cursor is
 * a parameter; the replay gate decides what is new after it, this file
 * collects it into one JSON answer.
 *
 * `GET {path}/poll?channel=a&cursor=a%3D5.E1` answers
 * `{"cursor":"a=6.E1","events":[{"type":"publication","channel":"a","seq":6,"data":…}]}`
 * at once when something is newer than the cursor, otherwise holds the
 * request until something is (gathering what arrives in the same turn) or
 * `limits.pollTimeoutMs` passes. An answer carries at most
 * `limits.pollMaxBytes` of events (at least one), its cursor naming the last
 * one it carries: a stale cursor pages through the history, poll by poll.
 * The replayed events of an answer are charged to the client address's
 * replay budget (`limits.replayBytesPerSecond`): an answer owing a replay
 * carries at least its first replayed publication, and is held until the
 * budget pays for it; it carries as much more as the budget pays for.
 */
import type { ServerResponse } from 'node:http';
import { CloseCode, decodeCursor, ErrorCode, type Cursor, type ResetReason } from '@rxmux/core/protocol';
import type { Backlogged } from '../core/backlog.js';
import type { OutgoingPublication, Subscriber } from '../core/hub.js';
import { ReplayGate, type GateOutput } from '../core/replay-gate.js';
import type { Endable, StreamHost } from '../core/stream-host.js';
import { admitChannels, catchUp, streamReader, type ChannelError, type StreamClient } from './channels.js';
import { refuseRequest } from './errors.js';
import { resetData, StreamQueue, type StreamEvent } from './stream-queue.js';
import { after } from '../core/awaitable.js';
import type { Awaitable } from '../engines/engine.js';

/** One held long-poll request. */
class Poll<P> implements Subscriber, Endable, GateOutput, Backlogged {
  /** What the answer will carry, and the cursor after what it does carry. */
  private readonly queue = new StreamQueue();
  /** The `channel-error` events of the answer, as JSON. */
  private refusals: string[] = [];
  private readonly gate: ReplayGate;
  private holding = true;
  /** Set once the request is held (nothing was new at once, or its replay waits for the budget): from then on a publication answers it. */
  private timer: NodeJS.Timeout | undefined;
  /** Counted as a held poll (`host.opened`). */
  private held = false;
  private scheduled = false;

  constructor(
    private readonly host: StreamHost<P>,
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    private readonly channels: readonly string[],
    cursor: Cursor,
    /** Admitted by a single-use ticket: the answer carries the next poll's ticket (for this principal). */
    private readonly next: (() => Awaitable<string>) | undefined,
    /** Charges replayed bytes to the client's address (`limits.replayBytesPerSecond`). */
    private readonly replay: StreamClient<P>['replay'],
  ) {
    this.gate = new ReplayGate(this, 'remaining', streamReader(host), cursor);
  }

  async start(errors: readonly ChannelError[]): Promise<void> {
    try {
      await catchUp(this.host, this.gate, this, this.channels);
    } catch (error) {
      this.host.error(error);
      this.release();
      refuseRequest(this.res, 500, ErrorCode.Remote, 'history unavailable');
      return;
    }
    if (!this.holding) return;
    this.refusals = errors.map((e) => JSON.stringify({ type: 'channel-error', ...e }));
    this.queue.start(this.gate.positions);
    for (const channel of this.channels) this.gate.release(channel);
    if (this.queue.length > 0 || this.refusals.length > 0) {
      this.end();
      return;
    }
    this.hold(this.host.limits.pollTimeoutMs);
  }

  /** Holds the request (counted, ended on shutdown) and answers it in `ms` at the latest. */
  private hold(ms: number): void {
    if (!this.held) this.host.opened(this, undefined);
    this.held = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.end(), ms);
  }

  /** What carrying `event` (as `json`) costs the replay budget: 0 when paid (or not a replay), else the ms to wait. */
  private charge(event: StreamEvent, json: string): number {
    return event.kind === 'publication' && !event.live ? this.replay(json.length) : 0;
  }

  deliver(out: OutgoingPublication): void {
    if (this.holding) this.gate.deliver(out);
  }

  /** {@link Subscriber}: the engine may have missed publications: the answer carries what the history holds, or a `reset`. */
  resync(channel: string): void {
    if (this.holding) this.gate.resync(channel);
  }

  /** {@link GateOutput}: the re-read failed: answer now; the next poll resumes from the cursor. */
  failed(_channel: string, error: unknown): void {
    this.host.error(error);
    this.end();
  }

  /** {@link GateOutput}: the answer's cursor carries where each channel starts. */
  joined(): void {
    // nothing to write: the answer's cursor tells where the channel starts
  }

  reset(channel: string, epoch: string, seq: number, reason: ResetReason): void {
    this.add({ kind: 'reset', channel, epoch, seq, reason });
  }

  publication(out: OutgoingPublication, replayed: boolean): void {
    this.add({ kind: 'publication', out, live: !replayed });
  }

  ping(): void {
    // a held poll answers within pollTimeoutMs: no keep-alive needed
  }

  /** {@link Backlogged}: what the answer has not sent yet. */
  get buffered(): number {
    return this.res.writableLength;
  }

  /** {@link Backlogged}: the client does not read its answer: the response is destroyed. */
  cut(buffered: number): void {
    this.host.slowConsumer(undefined, buffered);
    this.res.destroy();
  }

  /**
   * Answers with what was collected, up to `limits.pollMaxBytes` of events
   * (at least one): the cursor names the last event the answer carries, and
   * the client polls again from it at once for the rest.
   */
  end(): void {
    if (!this.holding) return;
    // An answer that owes a replay carries its first replayed publication (not only the resets and refusals
    // before it, which cost nothing): the request is held until the address's budget pays for that one.
    const first = this.queue.firstReplayed();
    const paid = first === undefined ? undefined : pollEvent(first);
    if (first !== undefined && paid !== undefined) {
      const wait = this.charge(first, paid);
      if (wait > 0) return this.hold(wait);
    }
    const wasHeld = this.held;
    this.release();
    if (wasHeld) this.host.ended(this, undefined, CloseCode.Normal, 'answered');
    const events = [...this.refusals];
    let bytes = events.reduce((sum, e) => sum + e.length + 1, 0);
    for (let event = this.queue.peek(); event !== undefined; event = this.queue.peek()) {
      const json = event === first && paid !== undefined ? paid : pollEvent(event);
      if (events.length > 0 && bytes + json.length > this.host.limits.pollMaxBytes) break;
      // What the budget cannot pay for after the first waits for the next poll.
      if (event !== first && this.charge(event, json) > 0) break;
      this.queue.take();
      events.push(json);
      bytes += json.length + 1;
    }
    const head = `{"cursor":${JSON.stringify(this.queue.encoded())},"events":[${events.join(',')}]`;
    this.queue.clear();
    const write = (body: string): void => {
      if (this.res.destroyed) return;
      this.res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...this.headers });
      this.res.end(body);
      // An answer the client does not read is a slow consumer too (write timeout, the server's buffers).
      this.host.backlog.wrote(this, body.length);
      this.res.once('close', () => this.host.backlog.forget(this));
    };
    if (this.next === undefined) return write(`${head}}`);
    void after(
      this.next(),
      (ticket) => write(`${head},"ticket":${JSON.stringify(ticket)}}`),
      (error: unknown) => {
        this.host.error(error);
        write(`${head}}`); // the client asks the socket for a new ticket
      },
    );
  }

  /** The client gave up waiting. */
  abandon(): void {
    if (!this.holding) return;
    const wasHeld = this.held;
    this.release();
    this.queue.clear();
    if (wasHeld) this.host.ended(this, undefined, CloseCode.GoingAway, 'client left');
  }

  /** Collects an event; once the request is held, the first one answers it (with what else arrives in this turn). */
  private add(event: StreamEvent): void {
    if (!this.holding) return;
    this.queue.push(event);
    if (!this.held || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.end());
  }

  private release(): void {
    this.holding = false;
    clearTimeout(this.timer);
    for (const channel of this.channels) this.host.unsubscribe(channel, this);
  }
}

/** One event of an answer as JSON; a publication whose data cannot be encoded (too deep) becomes a channel-error. */
function pollEvent(event: StreamEvent): string {
  if (event.kind === 'reset') return `{"type":"reset",${resetData(event).slice(1)}`;
  try {
    return event.out.pollEvent;
  } catch {
    return JSON.stringify({ type: 'channel-error', channel: event.out.channel, code: ErrorCode.InvalidField, message: 'a publication could not be encoded' });
  }
}

/** Serves `GET {path}/poll`. The request is already through the door. */
export async function servePoll<P>(host: StreamHost<P>, res: ServerResponse, url: URL, names: readonly string[], client: StreamClient<P>, byTicket: boolean): Promise<void> {
  const { principal } = client;
  const cursor = decodeCursor(url.searchParams.get('cursor') ?? undefined, host.limits.maxChannelsPerConnection);
  const { channels, errors } = await admitChannels(host, principal, names);
  const poll = new Poll(host, res, client.headers, channels, cursor, byTicket ? () => host.ticket(principal) : undefined, client.replay);
  res.on('close', () => poll.abandon());
  if (res.destroyed) return;
  await poll.start(errors);
}
