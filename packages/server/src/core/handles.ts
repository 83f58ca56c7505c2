/**
 * Socket handles the core gives an adapter besides a live socket's: one
 * that gives its address's and principal's hold back when the socket closes,
 * and one for a socket refused at once (over a cap), which ignores it all.
 */
import type { Release } from './quotas.js';
import type { SocketHandle } from './transport.js';

/** A socket handle that gives its address's hold back when the socket closes. */
export class HeldSocket implements SocketHandle {
  constructor(
    private readonly inner: SocketHandle,
    private readonly release: Release,
  ) {}

  message(data: string | Uint8Array, now?: number): void {
    this.inner.message(data, now);
  }

  pong(now?: number): void {
    this.inner.pong(now);
  }

  closed(code: number, reason: string): void {
    this.release();
    this.inner.closed(code, reason);
  }

  error(error: unknown): void {
    this.inner.error(error);
  }
}

/** The handle of a socket refused at once: whatever it does is ignored. */
export const IGNORED: SocketHandle = Object.freeze({
  message: () => undefined,
  pong: () => undefined,
  closed: () => undefined,
  error: () => undefined,
});
