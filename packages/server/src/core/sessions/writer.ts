/**
 * The batching writer of one socket, and the outbox that flushes every
 * socket's writer once per turn of the event loop.
 *
 * Text envelopes queued during one turn leave in one WebSocket message (a
 * batch), split only where the peer's decode limits require it. A lone
 * publication is written from its shared buffer (serialized once for every
 * recipient); a binary frame flushes the text queue first, so order is kept.
 * Every write goes through the server's {@link Backlog}: a socket that
 * buffers too much, stops reading, or holds too much of the server's
 * buffers is cut as a slow consumer.
 *
 * On a socket that negotiated chunked transfers (v2) the writer hands large
 * payloads and the frames of their channels to its {@link SocketTransfers}
 * (`transfers.ts`), and each flush writes the credit owed with the small
 * frames, then the pieces the window allows. Pieces are writes like any
 * other (the backlog sees them), and the frames waiting in a channel's lane
 * count as buffered for that socket. The transfer state exists while a
 * transfer runs: made by the first one (either way), let go by the flush
 * that finds it idle; in between the socket keeps only the agreed terms.
 */
import { channelIdProblem, encodeBatch, encodeBinary, encodeText, type Payload, type PeerLimits, type ServerFrame } from '@rxmux/core/protocol';
import type { Limits } from '../../limits.js';
import type { Backlog, Backlogged } from '../backlog.js';
import type { OutgoingPublication } from '../hub.js';
import type { SharedMessage, Transport } from '../transport.js';
import type { SocketState } from './socket-session.js';
import type { Agreement } from './agreements.js';
import { goesWhole, sendTransfer, SocketTransfers, type TransferTerms } from './transfers.js';

/** Longest error message text sent (the codec caps strings at 4096). */
const MAX_MESSAGE = 1000;

const utf8Length = (data: string | Uint8Array): number => (typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);

/** Message and byte counters of every socket (the `server.metrics()` traffic figures). */
export interface Traffic {
  messagesIn: number;
  framesIn: number;
  bytesIn: number;
  messagesOut: number;
  framesOut: number;
  bytesOut: number;
}

/** What a writer needs from its socket: which is also what the backlog watches (its bytes buffered, and how to cut it). */
export interface WriterOwner extends Backlogged {
  readonly state: SocketState;
  /** The receipt envelope to send with this write, if the count moved since the last one. */
  receipt(): string | undefined;
  error(error: unknown): void;
}

/**
 * Every socket's writer with something queued, flushed together in
 * `setImmediate`, not in a microtask: a microtask flushes after each socket's
 * `data` callback, `setImmediate` after the whole poll phase, so frames caused
 * by many sockets' input share a write. Measured (100 subscribers, 10
 * publishers, 300k deliveries, 5 runs each): median 272 vs 62 envelopes per
 * ws message, throughput equal or better, round-trip median equal (~160 us).
 */
export class Outbox {
  private dirty: Writer[] = [];

  constructor(
    readonly limits: Pick<Limits, 'maxFrameBytes'> & {
      /** The largest publication `publish()` takes: above the peer's `maxFrameBytes` a v1 peer gets a `gap` `'too-big'`. */
      readonly maxPublicationBytes: number;
    },
    private readonly traffic: Traffic,
    /** The slow-consumer rule every write goes through. */
    readonly backlog: Backlog,
  ) {}

  /** Calls `writer.flush()` later in this turn of the event loop (the writer asks once per turn). */
  schedule(writer: Writer): void {
    if (this.dirty.push(writer) === 1) setImmediate(() => this.flush());
  }

  /** Counts one WebSocket message of `frames` envelopes and `bytes` bytes. */
  count(direction: 'in' | 'out', frames: number, bytes: number): void {
    const t = this.traffic;
    if (direction === 'in') {
      t.messagesIn++;
      t.framesIn += frames;
      t.bytesIn += bytes;
    } else {
      t.messagesOut++;
      t.framesOut += frames;
      t.bytesOut += bytes;
    }
  }

  /** Counts an incoming WebSocket message, measured as its UTF-8 (text) or byte length. */
  countIn(data: string | Uint8Array, frames: number): void {
    this.count('in', frames, utf8Length(data));
  }

  private flush(): void {
    const dirty = this.dirty;
    this.dirty = [];
    for (const writer of dirty) writer.flushReporting();
  }
}

/** One socket's outgoing queue. */
export class Writer {
  private queue: (string | OutgoingPublication)[] | undefined;
  /**
   * What the hello's limits agreed to (an object shared by every socket that
   * announced the same: one field here, not two).
   */
  agreed: Agreement;
  /** The state of the transfers while any runs ({@link transfersNow}). */
  transfers: SocketTransfers | undefined;
  /** Held back from the outbox's flush ({@link hold}); `'owed'`: a flush passed it by, one is owed on release. */
  private holding: false | 'held' | 'owed' = false;

  constructor(
    private readonly owner: WriterOwner,
    private readonly transport: Transport,
    private readonly outbox: Outbox,
    agreed: Agreement,
  ) {
    this.agreed = agreed;
  }

  /** What the client accepts (from hello): its `maxFrameBytes`, a `maxBatch` within the server's. */
  get peer(): PeerLimits {
    return this.agreed.peer;
  }

  /** What chunked transfers were agreed on, on a socket that negotiated them (v2). */
  get transferTerms(): TransferTerms | undefined {
    return this.agreed.transfers;
  }

  /** Queues a frame; returns false (and reports) when it cannot be encoded, e.g. a reply that is not JSON. */
  frame(frame: ServerFrame): boolean {
    let envelope: string;
    try {
      envelope = encodeText(frame);
    } catch (error) {
      this.owner.error(error);
      return false;
    }
    // A channel's position frames keep their order with its publications: behind its transfer, if one runs.
    const channel = frame.type === 'subscribed' || frame.type === 'unsubscribed' || frame.type === 'gap' || frame.type === 'publication' ? frame.channel : undefined;
    if (channel !== undefined && this.transfers?.hold(channel, envelope.length, () => this.enqueue(envelope)) === true) return true;
    this.enqueue(envelope);
    return true;
  }

  /** An error frame; with the `id` of the client message it refuses, so only that message's ack fails. */
  error(code: string, message: string, channel?: string, id?: number): void {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}...` : message;
    // A codec error may name a channel that is itself invalid (empty, too long): then it is left out.
    const valid = channel !== undefined && channelIdProblem(channel) === undefined;
    this.frame({ type: 'error', code, message: text, ...(valid ? { channel } : {}), ...(id === undefined ? {} : { id }) });
  }

  /** Queues an encoded envelope or a publication (whose shared encoding is used at flush time). */
  enqueue(envelope: string | OutgoingPublication): void {
    if (!writable(this.owner.state)) return;
    if (this.queue === undefined) {
      this.queue = [envelope];
      this.outbox.schedule(this);
    } else {
      this.queue.push(envelope);
    }
  }

  /**
   * Writes one sequenced publication (live or replayed). One larger than this
   * client accepts would be dropped by its decoder and its seq missed: it gets
   * a `gap` `'too-big'` for that seq instead.
   */
  publication(out: OutgoingPublication): void {
    const terms = this.transferTerms;
    // A transfer, held behind one, or too big for the client; one that goes whole on a free channel needs no transfer state.
    if (terms !== undefined && (this.transfers !== undefined || !goesWhole(out, terms)) && this.transfersNow(terms).publication(out)) return;
    if (this.peer.maxFrameBytes < this.outbox.limits.maxPublicationBytes && out.size > this.peer.maxFrameBytes) {
      const { channel, epoch, seq } = out.publication;
      this.frame({ type: 'gap', channel, epoch, seq, reason: 'too-big', since: seq - 1 });
      return;
    }
    const binary = out.binary;
    if (binary !== undefined) this.binary(binary);
    else if (out.text.length > 0) this.enqueue(out); // encoded now, so a failure stays in the caller's guard
  }

  /**
   * `ctx.send(data)`: an unsequenced publication for this socket only. On a
   * socket with transfers it is held in its channel's lane while one runs
   * there, and started as a transfer when larger than a piece (and within
   * the client's `maxMessageBytes`); otherwise it goes whole as in v1.
   */
  send(channel: string, data: Payload): void {
    const terms = this.transferTerms;
    if (terms !== undefined) {
      if (this.transfers?.hold(channel, data instanceof Uint8Array ? data.byteLength : 0, () => this.send(channel, data)) === true) return;
      const transfer = sendTransfer(channel, data, terms);
      if (transfer !== undefined) return this.transfersNow(terms).start(transfer, channel);
    }
    if (data instanceof Uint8Array) this.binary(encodeBinary({ type: 'publication', channel, data }));
    else this.frame({ type: 'publication', channel, data });
  }

  /** The transfer state, made now if no transfer runs. */
  transfersNow(terms: TransferTerms): SocketTransfers {
    return (this.transfers ??= new SocketTransfers(terms, this));
  }

  /**
   * Lets the transfer state go once it is idle (nothing runs, everything
   * credited): a new one is the same. Called where no step of the transfers
   * is under way: the outbox's flush, and after a transfer frame.
   */
  settleTransfers(): void {
    if (this.transfers?.idle === true) this.transfers = undefined;
  }

  /** Binary frames cannot join a batch: flush the text queue first to keep order. */
  binary(bytes: Uint8Array): void {
    this.flush();
    this.write(bytes, true, 1);
  }

  /** Makes sure a flush runs this turn, even with nothing queued (a receipt is owed: the flush appends it). */
  touch(): void {
    if (!writable(this.owner.state) || this.queue !== undefined) return;
    this.queue = [];
    this.outbox.schedule(this);
  }

  /** Forgets what is queued (the socket is gone or superseded). */
  drop(): void {
    this.queue = undefined;
  }

  /**
   * Sends whatever was queued as one WebSocket message (a batch), split only
   * where the peer's decode limits require it: at most `maxBatch` envelopes
   * and about `maxFrameBytes` per message.
   */
  flush(): void {
    let queue = this.queue;
    this.queue = undefined;
    if (this.owner.state === 'closed') return;
    const receipt = this.owner.receipt();
    if (receipt !== undefined) (queue ??= []).push(receipt);
    const credit = this.transfers?.credit();
    if (credit !== undefined) (queue ??= []).push(credit);
    this.flushText(queue);
    // The small frames went first; now the pieces of the transfers, as far as the client's window allows.
    this.transfers?.pump((wire) => {
      if (!writable(this.owner.state)) return false;
      this.write(wire, true, 1);
      return true;
    });
  }

  private flushText(queue: (string | OutgoingPublication)[] | undefined): void {
    if (queue === undefined || queue.length === 0) return;
    const only = queue.length === 1 ? queue[0] : undefined;
    if (only !== undefined && typeof only !== 'string') {
      // A lone publication goes out as its shared message: serialized (and framed) once for every recipient.
      this.writeShared(only.shared);
      return;
    }
    const { maxBatch, maxFrameBytes } = this.peer;
    let batch: string[] = [];
    let size = 2;
    for (const entry of queue) {
      const text = typeof entry === 'string' ? entry : entry.text;
      if (batch.length > 0 && (batch.length >= maxBatch || size + text.length + 1 > maxFrameBytes)) {
        this.write(encodeBatch(batch), false, batch.length);
        if (!writable(this.owner.state)) return; // dropped as a slow consumer
        batch = [];
        size = 2;
      }
      batch.push(text);
      size += text.length + 1;
    }
    this.write(encodeBatch(batch), false, batch.length);
  }

  /**
   * Keeps what is queued out of the outbox's flush until {@link release}:
   * the welcome waits for the answers of the hello batch, so both leave in
   * one write (PROTOCOL.md 6.1). A direct {@link flush} (a binary frame, a
   * close) still writes everything, in order.
   */
  hold(): void {
    this.holding = 'held';
  }

  /** Ends {@link hold}: what waited leaves with this turn's flush. */
  release(): void {
    const owed = this.holding === 'owed';
    this.holding = false;
    if (owed && this.queue !== undefined) this.outbox.schedule(this);
  }

  /** {@link flush} from the outbox: a failure costs this socket's write, reported, never the others'. */
  flushReporting(): void {
    if (this.holding !== false) {
      this.holding = 'owed';
      return;
    }
    try {
      this.flush();
    } catch (error) {
      this.owner.error(error);
    }
    // Here, not in flush(): a flush nested in a transfer's own step (a binary frame released from a lane) must not swap the state under it.
    this.settleTransfers();
  }

  private write(message: string | Uint8Array, binary: boolean, frames: number): void {
    if (this.owner.state === 'closed') return;
    try {
      this.transport.send(message, binary); // no closure per write on the fan-out path
    } catch (error) {
      this.owner.error(error);
    }
    this.wrote(frames, utf8Length(message));
  }

  /** One envelope many sockets write unchanged: the transport may reuse its wire form. */
  private writeShared(message: SharedMessage): void {
    if (this.owner.state === 'closed') return;
    try {
      if (this.transport.sendShared !== undefined) this.transport.sendShared(message);
      else this.transport.send(message.data, message.binary);
    } catch (error) {
      this.owner.error(error);
    }
    this.wrote(1, message.data.byteLength);
  }

  /** Counts a write, and hands it to the slow-consumer rule. */
  private wrote(frames: number, bytes: number): void {
    this.outbox.count('out', frames, bytes);
    this.checkConsumer(bytes);
  }

  /** Reports a write of `bytes` (0: frames were held in a lane) to the backlog, which cuts a slow consumer. */
  checkConsumer(bytes = 0): void {
    if (this.owner.state === 'open') this.outbox.backlog.wrote(this.owner, bytes);
  }
}

/** Whether frames may still be queued: not closing or closed. */
export function writable(state: SocketState): boolean {
  return state === 'open' || state === 'awaiting-hello' || state === 'attaching';
}
