/**
 * Socket handles the core gives an adapter besides a live socket's (a
 * `SocketSession`, or a `PendingSocket` until its credentials are checked):
 * one for a socket refused at once (over a cap), which ignores it all, and
 * one for a socket refused after its address was counted, which gives that
 * hold back when the socket closes.
 */
import type { Hold } from './quotas.js';
import type { SocketHandle } from './transport.js';

/** The handle of a socket refused at once: whatever it does is ignored. */
export const IGNORED: SocketHandle = Object.freeze({
  message: () => undefined,
  pong: () => undefined,
  closed: () => undefined,
  error: () => undefined,
});

/**
 * A socket refused once its address was counted (its principal holds its
 * cap): ignored, and counted under its address until it closes.
 */
export class RefusedSocket implements SocketHandle {
  constructor(private readonly held: Hold) {}

  message(): void {
    // ignored
  }

  pong(): void {
    // ignored
  }

  closed(): void {
    this.held.release();
  }

  error(): void {
    // ignored
  }
}
