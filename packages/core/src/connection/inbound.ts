import type { Subject } from 'rxjs';
import type { Multiplexer } from '../channel/multiplexer.js';
import { encodeText, peekPublication } from '../protocol/codec.js';
import { ErrorCode, ProtocolError, RxmuxError } from '../protocol/errors.js';
import type { Frame } from '../protocol/frames.js';
import type { Reception } from '../protocol/transfer.js';
import { RemoteError } from '../errors.js';
import type { Link } from './link.js';
import type { Outbox } from './outbox.js';

/** What the inbound router delivers to. @internal */
export interface InboundHost {
  /** The multiplexer (made after the lifecycle that calls the router, so asked for when a frame arrives). */
  readonly channels: () => Multiplexer;
  readonly outbox: Outbox;
  /** `conn.errors$`'s subject. */
  readonly errors: Subject<RxmuxError>;
  readonly maxFrameBytes: number;
}

/**
 * Where each frame from the server goes once the link is welcomed:
 * publications, joins and gaps to the multiplexer; receipts, acks and
 * replies to the outbox; errors to their channel and `conn.errors$`
 * (PROTOCOL.md 8.1: only `unsubscribed` ends a channel); pings answered;
 * the pieces of the server's chunked transfers to the link, which puts them
 * together (a whole publication is routed as if it came in one frame), and
 * its credits and aborts to the link and the outbox (PROTOCOL.md 15).
 * @internal
 */
export class Inbound {
  constructor(private readonly host: InboundHost) {}

  /** Delivers one decoded frame from the server where it belongs. */
  route(frame: Frame, link: Link): void {
    switch (frame.type) {
      case 'publication':
        this.host.channels().publication(frame);
        return;
      case 'subscribed':
        this.host.channels().subscribed(frame);
        return;
      case 'gap':
        this.host.channels().gap(frame);
        if (frame.reason === 'too-big') {
          const error = new ProtocolError(ErrorCode.FrameTooBig, `publication ${frame.seq} on "${frame.channel}" is larger than maxFrameBytes ${this.host.maxFrameBytes}: skipped`, {
            channel: frame.channel,
          });
          this.host.channels().report(frame.channel, error);
          this.host.errors.next(error);
        }
        return;
      case 'unsubscribed':
        this.host.channels().unsubscribed(frame);
        return;
      case 'receipt':
        this.host.outbox.receipted(frame.received);
        return;
      case 'ack':
        this.host.outbox.acked(frame.id);
        return;
      case 'response':
        // Unknown ids were answered after a cancel or a timeout: nothing waits for them.
        this.host.outbox.answered(frame.id, { data: frame.data });
        return;
      case 'request-error':
        this.host.outbox.answered(frame.id, { error: new RemoteError(frame.code, frame.message) });
        return;
      case 'error': {
        // A failure the connection and the channel survive: a refused send, a failed handler, a bad frame.
        // Only `unsubscribed` (a refused or ended subscription) ends a channel's subscribers.
        const error = new RemoteError(frame.code, frame.message, frame.channel);
        if (frame.id !== undefined && this.host.outbox.refused(frame.id, error)) return; // its ack Observable errors
        if (frame.channel !== undefined) this.host.channels().report(frame.channel, error);
        this.host.errors.next(error);
        return;
      }
      case 'ping':
        link.write(encodeText({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) }), true);
        return;
      case 'pong':
        return;
      case 'transfer':
      case 'chunk': {
        const reception = link.take(frame);
        if (reception === 'unexpected') this.unexpected(frame);
        else this.#received(reception, link);
        return;
      }
      case 'credit':
        if (link.chunked) link.credited(frame.bytes);
        else this.unexpected(frame);
        return;
      case 'abort': {
        if (!link.chunked) {
          this.unexpected(frame);
          return;
        }
        // The server refuses our transfer on this channel; one whose last piece left already is answered by an error frame.
        const item = link.refused(frame.channel);
        if (item === undefined) return;
        const error = new RemoteError(frame.code, frame.message ?? `the server refused the message on "${frame.channel}"`, frame.channel);
        if (this.host.outbox.refusedTransfer(item, error, link)) return; // its ack errors
        this.host.channels().report(frame.channel, error);
        this.host.errors.next(error);
        return;
      }
      default:
        this.unexpected(frame);
    }
  }

  /** What a piece of the server's transfer amounted to (PROTOCOL.md 15.4). */
  #received(reception: Reception, link: Link): void {
    if (reception === undefined) return;
    if ('whole' in reception) {
      this.route(reception.whole, link); // a publication, whole: as if it had come in one frame
      return;
    }
    if ('abort' in reception) link.write(encodeText(reception.abort), true);
    const problem = 'refused' in reception ? reception.refused : 'abort' in reception ? reception.error : 'error' in reception ? reception.error : reception.violation;
    const error = problem instanceof ProtocolError ? problem : new ProtocolError(problem.code, problem.message, { channel: problem.channel });
    if (error.channel !== undefined) this.host.channels().report(error.channel, error);
    this.host.errors.next(error);
    // A refused publication that came whole anyway is skipped by its seq, as a too-big frame is.
    if ('refused' in reception && reception.refused.seq !== undefined) this.host.channels().skip(reception.refused.channel, reception.refused.seq);
  }

  /** A frame failed to decode: reported (on its channel too); one refused as too big is skipped by its seq, so it is not replayed forever. */
  decodeError(error: ProtocolError, raw: unknown): void {
    if (error.channel !== undefined) this.host.channels().report(error.channel, error);
    this.host.errors.next(error);
    if (error.code !== ErrorCode.FrameTooBig) return;
    const peek = peekPublication(raw);
    if (peek?.seq !== undefined) this.host.channels().skip(peek.channel, peek.seq);
  }

  /** A frame the server should not have sent (or not now). */
  unexpected(frame: Frame): void {
    this.host.errors.next(new RxmuxError(ErrorCode.UnexpectedFrame, `unexpected ${frame.type} frame from the server`));
  }
}
