/**
 * Chunked transfers on one socket that negotiated them (protocol v2,
 * PROTOCOL.md 15): the server's side of the protocol module's chunker and
 * reassembler. Outgoing, a publication (or a `ctx.send`) larger than a piece
 * is cut into pieces the client's window allows, written after the small
 * frames of each write; the later frames of its channel wait behind it in
 * the channel's lane, every other channel goes on. Incoming, a client's
 * transfer is put together within the server's bounds and handled as one
 * `message` once whole.
 *
 * ```
 *  publication ─▶ busy channel? ─yes─▶ lane (in order) ───────────────┐ released when its transfer ends
 *                     │ no                                             ▼
 *                larger than a piece? ─yes─▶ TransferSender ─▶ pieces, after each write's small frames
 *                     │ no
 *                     ▼
 *                the writer's queue, as in v1
 *  transfer / chunk ─▶ TransferReceiver ─▶ whole: handled as a message │ refused: error {id} │ abort
 *  credit ─▶ the window;  with each write ◀── the credit owed ([22, n])
 * ```
 */
import {
  encodeText,
  pieceBytes,
  TransferReceiver,
  TransferSender,
  transferSource,
  type AbortFrame,
  type CreditFrame,
  type ChunkFrame,
  type MessageFrame,
  type Payload,
  type PeerLimits,
  type Reception,
  type TransferFrame,
  type TransferLimits,
  type TransferSource,
} from '@rxmux/core/protocol';
import type { Limits } from '../../limits.js';
import type { OutgoingPublication } from '../hub.js';

/** What the transfers of a socket write through: its writer. */
export interface TransferWriter {
  /** Queues an encoded envelope for this turn's write. */
  enqueue(envelope: string): void;
  /** A publication, routed again (it may start a transfer, or wait in a lane). */
  publication(out: OutgoingPublication): void;
  /** Writes a binary frame now (after the text queue). */
  binary(bytes: Uint8Array): void;
  /** Makes sure a flush runs this turn (the flush writes the credit owed and the pieces the window allows). */
  touch(): void;
  /** Reports frames held in a lane to the slow-consumer rule (they count as buffered for the socket). */
  checkConsumer(): void;
}

/** The server's transfer limits (`limits`), as the receiver enforces them. */
export type ServerTransferLimits = Pick<Limits, 'chunkBytes' | 'transferWindow' | 'maxMessageBytes' | 'maxTransfers' | 'transferTimeoutMs' | 'maxFrameBytes'>;

/** The transfer keys the server announces in `welcome.limits` on a v2 socket. */
export function announcedTransfers(limits: ServerTransferLimits): TransferLimits {
  return { chunkBytes: limits.chunkBytes, window: limits.transferWindow, maxMessageBytes: limits.maxMessageBytes, maxTransfers: limits.maxTransfers };
}

/** A frame waiting behind its channel's transfer: its size, and how to hand it to the writer again. */
interface Held {
  readonly bytes: number;
  readonly release: () => void;
}

/**
 * What a socket's transfers were agreed on at hello: all a socket keeps
 * while nothing is transferred (the {@link SocketTransfers} state is made on
 * the first transfer and let go once every transfer ended and was credited).
 */
export interface TransferTerms {
  /** What the client accepts (its hello's limits: its own `maxFrameBytes`, a batch within the server's). */
  readonly peer: PeerLimits & TransferLimits;
  /** The server's own limits (shared by every socket). */
  readonly own: ServerTransferLimits;
  /** The largest piece sent to this client ({@link pieceBytes}). */
  readonly piece: number;
}

/** The terms of a socket whose client accepts `peer`. */
export function transferTerms(peer: PeerLimits & TransferLimits, own: ServerTransferLimits): TransferTerms {
  return { peer, own, piece: pieceBytes(peer, own.chunkBytes) };
}

/**
 * Whether a publication goes out whole (as in v1) when its channel is free:
 * bytes no larger than a piece and than the client's `maxMessageBytes`;
 * text no larger than a piece, known without encoding it when it fits even
 * at 3 UTF-8 bytes per UTF-16 unit, else by its shared encoding (built once
 * for every recipient, and what is written). Most publications are, and
 * need no transfer state.
 */
export function goesWhole(out: OutgoingPublication, terms: TransferTerms): boolean {
  const data = out.publication.data;
  if (data instanceof Uint8Array) return data.byteLength <= terms.piece && data.byteLength <= terms.peer.maxMessageBytes;
  // Three bytes a code unit bound the UTF-8 without encoding; past that bound, the shared encoding's own length decides.
  return out.text.length * 3 <= terms.piece || out.shared.data.byteLength <= terms.piece;
}

/**
 * `ctx.send(data)` on a channel with no transfer running: the transfer to
 * start when the payload is larger than a piece and within the client's
 * `maxMessageBytes`, `undefined` when it goes whole as in v1.
 */
export function sendTransfer(channel: string, data: Payload, terms: TransferTerms): TransferSource | undefined {
  const binary = data instanceof Uint8Array;
  if (binary && data.byteLength <= terms.piece) return undefined; // whole, without encoding anything
  const payload = binary ? data : utf8.encode(encodeText({ type: 'publication', channel, data }));
  if (payload.byteLength <= terms.piece || payload.byteLength > terms.peer.maxMessageBytes) return undefined;
  return transferSource({ kind: 'publication', channel, ...(binary ? {} : { text: true as const }) }, payload);
}

/** One socket's transfers, both ways, while any runs (see {@link TransferTerms}). */
export class SocketTransfers {
  readonly #sender: TransferSender<string>;
  readonly #receiver: TransferReceiver;
  /** Frames waiting behind their channel's transfer, in order. */
  readonly #lanes = new Map<string, Held[]>();
  #laneBytes = 0;
  /** When the client last credited while a transfer waited for it (a client that stops reading is a slow consumer). */
  #progressAt = 0;
  /** A piece of the client's was taken since the credit was last written. */
  #owes = false;

  constructor(
    readonly terms: TransferTerms,
    private readonly writer: TransferWriter,
  ) {
    const { peer, own, piece } = terms;
    this.#sender = new TransferSender(piece, peer.window, peer.maxTransfers);
    this.#receiver = new TransferReceiver('message', {
      chunkBytes: own.chunkBytes,
      window: own.transferWindow,
      maxMessageBytes: own.maxMessageBytes,
      maxTransfers: own.maxTransfers,
      timeoutMs: own.transferTimeoutMs,
      maxTextBytes: own.maxFrameBytes, // a JSON message is parsed whole: no larger than a frame, chunked or not
    });
  }

  /**
   * Nothing runs either way, nothing waits, every byte sent was credited and
   * every credit owed was written: this state is the same as a new one's,
   * and may be let go.
   */
  get idle(): boolean {
    return (
      !this.#owes &&
      this.#lanes.size === 0 &&
      this.#sender.size === 0 &&
      this.#sender.available === this.#sender.window &&
      this.#receiver.size === 0
    );
  }

  // ---- outgoing -------------------------------------------------------------------

  /** Whether frames of `channel` wait behind a transfer. */
  busy(channel: string): boolean {
    return this.#lanes.has(channel) || this.#sender.has(channel);
  }

  /** Bytes of frames waiting in lanes. */
  get laneBytes(): number {
    return this.#laneBytes;
  }

  /**
   * A publication for this socket. Returns false when it goes out as in v1
   * (small, its channel free); otherwise it is taken: skipped with a `gap`
   * `'too-big'` (larger than the client's `maxMessageBytes`), held in its
   * channel's lane, or started as a transfer.
   */
  publication(out: OutgoingPublication): boolean {
    const { channel, seq, epoch } = out.publication;
    if (this.busy(channel)) return this.hold(channel, out.size, () => this.writer.publication(out));
    if (goesWhole(out, this.terms)) return false;
    const data = out.publication.data;
    const size = data instanceof Uint8Array ? data.byteLength : out.shared.data.byteLength;
    if (size > this.terms.peer.maxMessageBytes) {
      this.writer.enqueue(encodeText({ type: 'gap', channel, epoch, seq, reason: 'too-big', since: seq - 1 }));
      return true;
    }
    if (size <= this.#sender.piece) return false;
    this.start(out.source(this.#sender.piece), channel);
    return true;
  }

  /** Holds a frame of a busy channel in its lane; returns false (nothing held) when the channel is free. */
  hold(channel: string, bytes: number, release: () => void): boolean {
    if (!this.busy(channel)) return false;
    let lane = this.#lanes.get(channel);
    if (lane === undefined) this.#lanes.set(channel, (lane = []));
    lane.push({ bytes, release });
    this.#laneBytes += bytes;
    this.writer.checkConsumer();
    return true;
  }

  /** The credit envelope owed, if any (it rides with this write). */
  credit(): string | undefined {
    this.#owes = false;
    const owed = this.#receiver.takeCredit();
    return owed === 0 ? undefined : encodeText({ type: 'credit', bytes: owed });
  }

  /** Writes the pieces the window allows, after the write's small frames; a finished transfer lets its lane go. */
  pump(write: (wire: Uint8Array) => boolean): void {
    for (let piece = this.#sender.next(); piece !== undefined; piece = this.#sender.next()) {
      if (!write(piece.wire)) return;
      if (piece.done !== undefined) this.#release(piece.done);
    }
  }

  /** A `credit` from the client. */
  credited(bytes: number, now: number): void {
    this.#sender.credit(bytes);
    this.#progressAt = now;
    if (this.#sender.size > 0) this.writer.touch();
  }

  /**
   * An `abort` from the client: it refuses the transfer on its channel. An
   * unfinished one is abandoned (the client reports the skipped
   * publication); a finished one needs nothing.
   */
  aborted(frame: AbortFrame): void {
    this.abandon(frame.channel);
  }

  /** Gives up the transfer on `channel` (refused, or the channel was left): an abandoning chunk if pieces went out, then its lane goes on. */
  abandon(channel: string): void {
    const dropped = this.#sender.drop(channel);
    if (dropped === undefined) return;
    if (dropped.abandon !== undefined) this.writer.binary(dropped.abandon);
    this.#release(channel);
  }

  /** The client took no piece for `timeoutMs` while one waited for its credit: it stopped reading. */
  stalled(now: number, timeoutMs: number): boolean {
    return this.#sender.size > 0 && this.#sender.available < this.#sender.piece && now - this.#progressAt > timeoutMs;
  }

  // ---- incoming -------------------------------------------------------------------

  /** A piece from the client: see {@link Reception}. */
  take(frame: TransferFrame | ChunkFrame, now: number): Reception {
    const reception = this.#receiver.take(frame, now);
    this.#owes = true;
    this.writer.touch(); // the credit owed goes out with this turn's write
    return reception;
  }

  /** Refuses the client's transfers that stalled. */
  expire(now: number): Reception[] {
    return this.#receiver.expire(now);
  }

  /** The socket is gone. */
  clear(): void {
    this.#receiver.clear();
    this.#lanes.clear();
    this.#laneBytes = 0;
  }

  /** Starts a transfer on `channel` (free: nothing of it runs). */
  start(source: TransferSource, channel: string): void {
    if (this.#sender.size === 0) this.#progressAt = Date.now();
    this.#sender.start(source, channel);
    this.writer.touch();
  }

  /** The transfer of `channel` ended: what waited behind it goes out in order, until one starts a transfer again. */
  #release(channel: string): void {
    const lane = this.#lanes.get(channel);
    if (lane === undefined) return;
    this.#lanes.delete(channel);
    for (let i = 0; i < lane.length; i++) {
      const held = lane[i] as Held;
      this.#laneBytes -= held.bytes;
      if (this.#sender.has(channel)) {
        // A released publication started a transfer: the rest keep waiting, ahead of anything newer.
        const rest = lane.slice(i);
        this.#lanes.set(channel, rest);
        this.#laneBytes += held.bytes;
        return;
      }
      held.release();
    }
  }
}

const utf8 = new TextEncoder();

/** What answering a piece of a client's transfer needs from its socket. */
export interface PieceSocket {
  readonly writer: {
    /** The socket's transfers (protocol v2) while any runs. */
    readonly transfers?: SocketTransfers | undefined;
    /** Queues an error frame (with the id of the message it answers, when it has one). */
    error(code: string, message: string, channel?: string, id?: number): void;
    /** Queues a frame (the `abort` that tells the client to stop). */
    frame(frame: AbortFrame): boolean;
  };
  /** One `message` was taken: a refused transfer whose last byte arrived counts as a refused message. */
  take(): void;
  /** The client broke flow control: error `RXMUX_ERR_FLOW_CONTROL`, close 1008. */
  violated(message: string): void;
  /** Handles a whole message put together from pieces, as if it had come in one frame. */
  handle(frame: MessageFrame): Promise<void> | undefined;
  /** Bytes buffered towards the client (for the slow-consumer cut). */
  readonly buffered: number;
  /** Cuts the socket as a slow consumer. */
  cut(buffered: number, reason: 'slow consumer'): void;
}

/** A transfer frame from the client: a piece (whole, it is handled as its message), a credit, an abort. */
export function transferFrame(
  socket: PieceSocket,
  frame: TransferFrame | ChunkFrame | CreditFrame | AbortFrame,
  transfers: SocketTransfers,
): Promise<void> | undefined {
  if (frame.type === 'credit') transfers.credited(frame.bytes, Date.now());
  else if (frame.type === 'abort') transfers.aborted(frame);
  else {
    const whole = received(socket, transfers.take(frame, Date.now()));
    if (whole !== undefined) return socket.handle(whole);
  }
  return undefined;
}

/**
 * Heartbeat tick: the client's stalled transfers are refused; a client that
 * stopped taking ours for `timeoutMs` is a slow consumer. Returns whether
 * the socket is cut.
 */
export function expireTransfers(socket: PieceSocket, now: number, timeoutMs: number): boolean {
  const transfers = socket.writer.transfers;
  if (transfers === undefined) return false;
  for (const reception of transfers.expire(now)) received(socket, reception);
  if (!transfers.stalled(now, timeoutMs)) return false;
  socket.cut(socket.buffered, 'slow consumer');
  return true;
}

/**
 * Answers what a piece of a client's transfer amounted to, and returns the
 * message to handle when it is whole (PROTOCOL.md 15.4): a refused transfer
 * whose last byte arrived is a refused message (counted by the receipts,
 * answered with `error {code, id}` like any refused message); an abort tells
 * the client to stop; a stray piece gets an `error`; a flow-control
 * violation costs the connection.
 */
export function received(socket: PieceSocket, reception: Reception): MessageFrame | undefined {
  if (reception === undefined) return undefined;
  if ('whole' in reception) return reception.whole.type === 'message' ? reception.whole : undefined; // the receiver takes messages only
  if ('refused' in reception) {
    const { code, message, channel, id } = reception.refused;
    socket.take();
    socket.writer.error(code, message, channel, id);
  } else if ('abort' in reception) {
    socket.writer.frame(reception.abort);
  } else if ('error' in reception) {
    socket.writer.error(reception.error.code, reception.error.message, reception.error.channel);
  } else {
    socket.violated(reception.violation.message);
  }
  return undefined;
}
