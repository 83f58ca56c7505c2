/**
 * Client `request` and `cancel` frames (PROTOCOL.md 5.10-5.13, 6.4): one
 * handler run per request id and session, one answer (`response` or
 * `request-error`), remembered within `limits.replyCacheSize` so a re-sent
 * request gets it again; a re-sent id whose handler still runs is ignored
 * (its one answer follows). `cancel` aborts the handler's `ctx.signal`.
 */
import { encodeText, ErrorCode, type JsonValue, type RequestFrame, type ServerFrame } from '@rxmux/core/protocol';
import type { ChannelHandler, RequestContext, RequestResult } from '../../types.js';
import { after } from '../awaitable.js';
import type { Hold } from '../quotas.js';
import type { Session } from './session.js';
import { HandlerContext } from './context.js';
import type { HandlerSocket } from './handler-socket.js';

/**
 * A request whose handler is running. Its `AbortSignal` is created only when
 * the handler reads `ctx.signal` (an `AbortController` costs microseconds, and
 * most handlers never look at it); a cancel before that is remembered.
 */
export class PendingRequest {
  #controller: AbortController | undefined;
  #aborted = false;
  /** What the request holds of its client's cap of running requests, given back once it ends. */
  #held: Hold | undefined;

  /** Whether the client cancelled the request or the session ended. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The signal handed to the handler as `ctx.signal`. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  abort(): void {
    this.done();
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
  }

  /** The request holds `held` (its place under the caps of running requests) until it ends. */
  hold(held: Hold): void {
    this.#held = held;
  }

  /** The request ended (answered or aborted): what it held is given back. */
  done(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.release();
  }
}

/** Why a thrown value becomes a request-error: its own string `code` (and message), or a generic one that leaks nothing. */
export function failureOf(error: unknown): { code: string; message: string } {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const message = (error as { message?: unknown }).message;
    return { code: (error as { code: string }).code, message: typeof message === 'string' ? message : 'request failed' };
  }
  return { code: ErrorCode.Remote, message: 'the handler failed' };
}

/**
 * Handles one `request` frame. Returns a promise only when something
 * asynchronous (a session store lookup, authorize) holds the frames behind it.
 */
export function handleRequest<P>(socket: HandlerSocket<P>, frame: RequestFrame): Promise<void> | undefined {
  const session = socket.session;
  if (session === undefined) return undefined; // cannot happen: requests are only handled after hello
  if (session.requests.has(frame.id)) return undefined; // still running here: its answer follows
  return after(
    session.reply(frame.id),
    (known) => {
      if (known === 'running') return; // runs on another node (a resume moved the session): its one answer follows
      if (known !== undefined) return socket.writer.enqueue(known.answer);
      if (session.requests.has(frame.id)) return; // started here while the store answered
      return start(socket, session, frame);
    },
    (error: unknown) => {
      socket.error(error);
      socket.writer.frame({ type: 'request-error', id: frame.id, code: ErrorCode.Remote, message: 'the request could not be checked for duplicates' });
    },
  );
}

/** A `cancel`: aborts a running request (on whichever node it runs) and forgets its id. Unknown ids are ignored: the response may simply have crossed the cancel. */
export function cancelRequest(session: Session<unknown> | undefined, id: number): void {
  session?.cancel(id);
}

function start<P>(socket: HandlerSocket<P>, session: Session<P>, frame: RequestFrame): Promise<void> | undefined {
  const { channel, id } = frame;
  const pending = new PendingRequest();
  session.requests.set(id, pending);
  return socket.authorized(
    channel,
    'publish',
    () => {
      if (pending.aborted) return; // cancelled while authorize ran
      const handler = socket.handler(channel);
      if (handler?.onRequest === undefined) {
        session.requests.delete(id);
        socket.writer.frame({ type: 'request-error', id, code: ErrorCode.NoHandler, message: `no request handler on ${channel}` });
        return;
      }
      const held = socket.holdRequest();
      if (held === undefined) {
        session.requests.delete(id);
        socket.writer.frame({ type: 'request-error', id, code: ErrorCode.TooManyRequests, message: 'too many requests running for this client: try again when some are answered' });
        return;
      }
      pending.hold(held);
      session.requestStarted(id);
      run(socket, session, handler, pending, frame);
    },
    () => {
      session.requests.delete(id);
      socket.writer.frame({ type: 'request-error', id, code: ErrorCode.Forbidden, message: `not allowed to send requests to ${channel}` });
    },
    () => {
      // The socket went away while authorize ran: forget the request, so the client's re-send runs it.
      if (session.requests.get(id) === pending) session.requests.delete(id);
    },
  );
}

/** Runs the handler; its first answer (return value, `ctx.reply` or `ctx.fail`, or a throw) is the one sent and remembered. */
function run<P>(socket: HandlerSocket<P>, session: Session<P>, handler: ChannelHandler<P>, pending: PendingRequest, { channel, id, data }: RequestFrame): void {
  RequestHandlerContext.run(new RequestHandlerContext(socket, session, pending, channel, id), handler, data);
}

/**
 * {@link RequestContext} of one request, and the request's one answer: no
 * closure unless the handler reads `reply` or `fail` (or `signal`, whose
 * `AbortController` is made on first read too).
 */
class RequestHandlerContext<P> extends HandlerContext<P> implements RequestContext<P> {
  readonly #socket: HandlerSocket<P>;
  readonly #session: Session<P>;
  readonly #pending: PendingRequest;
  #settled = false;
  #reply: ((value: JsonValue) => void) | undefined;
  #fail: ((code: string, message: string) => void) | undefined;

  constructor(
    socket: HandlerSocket<P>,
    session: Session<P>,
    pending: PendingRequest,
    channel: string,
    readonly id: number,
  ) {
    super(socket, channel);
    this.#socket = socket;
    this.#session = session;
    this.#pending = pending;
  }

  /** Calls the handler with `ctx`; its return value, rejection or throw answers unless `reply`/`fail` did first. */
  static run<P>(ctx: RequestHandlerContext<P>, handler: ChannelHandler<P>, data: JsonValue): void {
    try {
      const result = handler.onRequest?.(ctx, data);
      if (result instanceof Promise) result.then((value) => ctx.#returned(value), (error: unknown) => ctx.#failed(error));
      else ctx.#returned(result);
    } catch (error) {
      ctx.#failed(error);
    }
  }

  get signal(): AbortSignal {
    return this.#pending.signal;
  }

  get reply(): (value: JsonValue) => void {
    return (this.#reply ??= (value) => this.#settle({ type: 'response', id: this.id, data: value }));
  }

  get fail(): (code: string, message: string) => void {
    return (this.#fail ??= (code, message) => this.#settle({ type: 'request-error', id: this.id, code, message }));
  }

  #returned(value: RequestResult): void {
    this.#settle({ type: 'response', id: this.id, data: value === undefined ? null : value });
  }

  #failed(error: unknown): void {
    if (!this.#pending.aborted) this.#socket.error(error);
    const { code, message } = failureOf(error);
    this.#settle({ type: 'request-error', id: this.id, code, message });
  }

  #settle(frame: ServerFrame): void {
    if (this.#settled) return;
    this.#settled = true;
    const pending = this.#pending;
    pending.done();
    const id = this.id;
    if (pending.aborted || this.#session.requests.get(id) !== pending) return; // cancelled: no answer
    let envelope: string;
    try {
      envelope = encodeText(frame);
    } catch (error) {
      this.#socket.error(error);
      envelope = encodeText({ type: 'request-error', id, code: ErrorCode.Remote, message: 'the reply could not be encoded' });
    }
    this.#session.replied(id, envelope);
  }
}
