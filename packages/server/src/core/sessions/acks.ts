/**
 * Client `message` frames: authorize, run the handler at most once per id
 * (the session's dedupe window), then answer `ack`, or `error {id}` when it was
 * refused or failed (PROTOCOL.md 5.0, 6.4, 14.2). Every message taken counts
 * towards the session's receipts.
 *
 * ```
 *  message {channel, id?} ─▶ authorize ──refused──▶ error FORBIDDEN {id}
 *                                │
 *                           handler? ──none──▶ error NO_HANDLER {id}
 *                                │
 *                     id seen? ──running──▶ (nothing now: the answer follows)
 *                                ├─answered─▶ the same answer again
 *                                ▼
 *                     onMessage(ctx, data) ──▶ ack {id} | error REMOTE {id}   (after it settled)
 * ```
 */
import { encodeText, ErrorCode, type MessageFrame } from '@rxmux/core/protocol';
import type { ChannelHandler, MessageContext } from '../../types.js';
import { after } from '../awaitable.js';
import { MessageHandlerContext } from './context.js';
import type { HandlerSocket } from './handler-socket.js';

/** What message handling needs from its socket, beyond any handler's needs. */
export interface MessageSocket<P> extends HandlerSocket<P> {
  /** One `message` envelope was taken (handled, refused, or recognised as a duplicate): the receipts count it. */
  take(): void;
}

/**
 * Handles one `message` frame. Returns a promise only when something
 * asynchronous (authorize, a session store lookup) holds the frames behind it.
 */
export function handleMessage<P>(socket: MessageSocket<P>, frame: MessageFrame): Promise<void> | undefined {
  const { channel, id } = frame;
  // authorize before anything else: a "no handler" answer to an unauthorized client would tell it which channels exist.
  return socket.authorized(
    channel,
    'publish',
    () => {
      const handler = socket.handler(channel);
      if (handler?.onMessage === undefined) {
        socket.take();
        return socket.writer.error(ErrorCode.NoHandler, `no handler for messages on ${channel}`, channel, id);
      }
      const session = socket.session;
      if (id === undefined || session === undefined) {
        socket.take();
        return run(socket, handler, frame);
      }
      return after(
        session.seen(id),
        (seen) => {
          if (socket.state !== 'open') return; // gone while the store answered: not taken, so the client re-sends it
          socket.take();
          if (seen === 'running') return; // answered when its handler finishes
          if (seen !== undefined) return socket.writer.enqueue(seen.answer); // handled already: same answer, nothing runs
          session.started(id);
          run(socket, handler, frame);
        },
        (error: unknown) => {
          socket.error(error);
          socket.writer.error(ErrorCode.Remote, 'the message could not be checked for duplicates', channel, id);
        },
      );
    },
    () => {
      socket.take();
      socket.writer.error(ErrorCode.Forbidden, `not allowed to publish to ${channel}`, channel, id);
    },
  );
}

/**
 * Runs the handler. The answer, `ack` or `error {id}`, goes out after it ran
 * (async handlers: after the promise settled), through the session: to
 * whichever socket it is attached to by then, remembered for duplicates.
 */
function run<P>(socket: MessageSocket<P>, handler: ChannelHandler<P>, { channel, id, data }: MessageFrame): void {
  const session = socket.session;
  const answer = (envelope: string): void => {
    if (id === undefined) return;
    if (session !== undefined) session.finished(id, envelope);
    else socket.writer.enqueue(envelope);
  };
  const done = (): void => {
    if (id !== undefined) answer(encodeText({ type: 'ack', id }));
  };
  const failed = (error: unknown): void => {
    socket.error(error);
    if (id === undefined) return socket.writer.error(ErrorCode.Remote, 'the message handler failed', channel);
    answer(encodeText({ type: 'error', code: ErrorCode.Remote, message: 'the message handler failed', channel, id }));
  };
  const ctx: MessageContext<P> = new MessageHandlerContext(socket, channel, id);
  try {
    const result = handler.onMessage?.(ctx, data);
    if (result instanceof Promise) result.then(done, failed);
    else done();
  } catch (error) {
    failed(error);
  }
}
