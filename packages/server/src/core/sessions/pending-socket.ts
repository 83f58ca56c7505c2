/**
 * A socket before its credentials were checked: it waits for the first frame
 * (`hello`, which carries the token), asks `verify`, and hands the socket
 * over to a {@link SocketSession} for the principal, replaying what arrived
 * meanwhile in order; or refuses it with 4401.
 *
 * ```
 *  open ─▶ first message ─ hello{token}? ─▶ verify(token) ─▶ SocketSession(principal) ◀── messages replayed, in order
 *            │ not hello: error UNEXPECTED_FRAME, close 4400    │ refused: error UNAUTHORIZED, close 4401
 *            │ too much before the verdict: close 1008          │ no hello within the heartbeat timeout: close 1008 / terminate
 * ```
 *
 * Nothing is handled before the verdict: no channel, message or request of
 * an unauthenticated socket reaches the app.
 */
import { CloseCode, decode, ErrorCode, encodeText } from '@rxmux/core/protocol';
import type { Verified, Verify } from '../../credentials.js';
import type { Limits } from '../../limits.js';
import type { Hold } from '../quotas.js';
import type { SocketHandle, Transport } from '../transport.js';

/** Messages held while the verdict is awaited, at most (a client sends hello and its subscribes, then waits). */
const MAX_HELD_MESSAGES = 64;

/** What a pending socket needs from the core. */
export interface PendingHost<P> {
  readonly limits: Limits;
  /** The credentials passed: the core creates the socket proper. */
  admitted(pending: PendingSocket<P>, verified: Verified<P>, verify: Verify<P>): SocketHandle;
  /** It is no longer pending: admitted, refused, or closed before its verdict. */
  settled(pending: PendingSocket<P>, refusedCredentials: boolean): void;
  error(error: unknown): void;
}

/** A socket waiting for its first frame's credentials to be checked. */
export class PendingSocket<P> implements SocketHandle {
  /** What arrived while `verify` runs (or before the first hello was read), with arrival times. */
  private held: { readonly data: string | Uint8Array; readonly now: number }[] = [];
  private heldBytes = 0;
  private state: 'awaiting-hello' | 'verifying' | 'admitted' | 'ended' = 'awaiting-hello';
  /** The socket proper, once admitted: everything goes to it. */
  private socket: SocketHandle | undefined;
  private readonly createdAt: number;

  constructor(
    private readonly host: PendingHost<P>,
    readonly transport: Transport,
    private readonly verify: Verify<P>,
    now: number,
    /** The client address the socket is counted under, handed on to the socket proper. */
    readonly address: string | undefined,
    /** Its address's hold: handed on to the socket proper, or given back here when it closes unadmitted. */
    readonly hold: Hold,
  ) {
    this.createdAt = now;
  }

  message(data: string | Uint8Array, now = Date.now()): void {
    if (this.socket !== undefined) return this.socket.message(data, now);
    if (this.state === 'ended') return;
    this.held.push({ data, now });
    this.heldBytes += typeof data === 'string' ? data.length : data.byteLength;
    if (this.held.length > MAX_HELD_MESSAGES || this.heldBytes > this.host.limits.maxFrameBytes) {
      this.refuse(CloseCode.PolicyViolation, 'too much before authentication');
      return;
    }
    if (this.state === 'awaiting-hello') this.readHello(data);
  }

  pong(now = Date.now()): void {
    this.socket?.pong(now);
  }

  closed(code: number, reason: string): void {
    if (this.socket !== undefined) return this.socket.closed(code, reason);
    this.hold.release();
    this.end(false);
  }

  error(error: unknown): void {
    if (this.socket !== undefined) this.socket.error(error);
    else this.host.error(error);
  }

  /** Heartbeat tick: a socket that never completes its hello is dropped, like one that never says it. */
  heartbeat(now: number, timeout: number): void {
    if (now - this.createdAt <= timeout) return;
    this.refuse(CloseCode.PolicyViolation, 'no hello');
    this.transport.terminate();
  }

  /** Shutdown: a socket not yet admitted is simply closed. */
  shutdown(): void {
    this.refuse(CloseCode.GoingAway, 'going away');
  }

  /** The first message: a hello (possibly in a batch, after pongs) starts the check; anything else is refused. */
  private readHello(data: string | Uint8Array): void {
    const { frames } = decode(data, this.host.limits);
    const first = frames.find((frame) => frame.type !== 'pong');
    if (first === undefined) {
      if (frames.length === 0) this.refuse(CloseCode.BadRequest, 'hello expected', ErrorCode.UnexpectedFrame, 'the first frame must be hello');
      return; // only pongs so far: allowed in any state
    }
    if (first.type !== 'hello') {
      this.refuse(CloseCode.BadRequest, 'hello expected', ErrorCode.UnexpectedFrame, `${first.type} before hello: the first frame must be hello`);
      return;
    }
    this.state = 'verifying';
    void this.verify(first.token).then((verified) => {
      if (this.state !== 'verifying') return; // closed meanwhile
      if (verified === undefined) {
        this.refuse(CloseCode.Unauthorized, 'unauthorized', ErrorCode.Unauthorized, 'authentication failed', true);
        return;
      }
      this.admit(verified);
    });
  }

  private admit(verified: Verified<P>): void {
    this.state = 'admitted';
    this.host.settled(this, false);
    try {
      const socket = this.host.admitted(this, verified, this.verify);
      this.socket = socket;
      const held = this.held;
      this.held = [];
      for (const { data, now } of held) socket.message(data, now);
    } catch (error) {
      this.host.error(error);
      this.transport.close(CloseCode.InternalError, 'internal error');
    }
  }

  /** Closes the socket, after an error frame when there is something to say. */
  private refuse(code: number, reason: string, errorCode?: string, message?: string, credentials = false): void {
    if (!this.end(credentials)) return;
    try {
      if (errorCode !== undefined && message !== undefined) this.transport.send(encodeText({ type: 'error', code: errorCode, message }), false);
      this.transport.close(code, reason);
    } catch (error) {
      this.host.error(error);
    }
  }

  /** Leaves the pending state without a socket. Returns false when it had left it already. */
  private end(refusedCredentials: boolean): boolean {
    if (this.state === 'admitted' || this.state === 'ended') return false;
    this.state = 'ended';
    this.held = [];
    this.host.settled(this, refusedCredentials);
    return true;
  }
}
