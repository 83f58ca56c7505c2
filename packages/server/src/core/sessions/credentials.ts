/**
 * The credentials of one live socket (PROTOCOL.md 5.18, 5.19): when they
 * expire, and a `refresh` that replaces them without reconnecting.
 *
 * - An expiry (`withExpiry`, or a refresh's) arms one timer; when it fires
 *   without a refresh the socket closes with 4401.
 * - A `refresh` is checked as the hello's token was. Refused: close 4401.
 *   Accepted: the principal and the expiry are replaced and every joined
 *   channel is authorized again before `refreshed` is sent. Frames behind
 *   the refresh wait for the verdict, so nothing runs with stale rights.
 */
import { CloseCode, ErrorCode, type RefreshFrame } from '@rxmux/core/protocol';
import type { Verified, Verify } from '../../credentials.js';
import type { SocketState } from './socket-session.js';
import type { Writer } from './writer.js';

/** The socket whose credentials these are. */
export interface CredentialsOwner<P> {
  readonly state: SocketState;
  readonly writer: Pick<Writer, 'error' | 'frame'>;
  /** Who is on the socket; replaced by an accepted refresh. */
  principal: P;
  close(code: number, reason: string): void;
  /** Authorizes every joined channel again (the principal changed); a promise when that is asynchronous. */
  reauthorize(): Promise<void> | undefined;
}

/** One socket's credentials term. */
export class SocketCredentials<P> {
  /** When the credentials expire (`Date.now()` ms), if they do. */
  private expiresAt: number | undefined;
  /** Closes the socket with 4401 when the credentials expire without a refresh. */
  private expiry: NodeJS.Timeout | undefined;

  constructor(
    private readonly owner: CredentialsOwner<P>,
    /** Checks the token of a `refresh` (absent: the adapter authenticated, and refreshes are refused). */
    private readonly verify: Verify<P> | undefined,
    expiresAt: number | undefined,
    now: number,
  ) {
    this.expireAt(expiresAt, now);
  }

  /** Milliseconds until the credentials expire (for `welcome` and `refreshed`), if they do. */
  expiresIn(now: number): number | undefined {
    return this.expiresAt === undefined ? undefined : Math.max(0, this.expiresAt - now);
  }

  /** A `refresh` frame: the new token's verdict, then the re-authorization (see the module's comment). */
  refresh({ token }: RefreshFrame): Promise<void> | undefined {
    const verify = this.verify;
    if (verify === undefined) {
      this.owner.writer.error(ErrorCode.UnexpectedFrame, 'this server does not take credentials from the client');
      return undefined;
    }
    return verify(token).then((verified) => this.refreshed(verified));
  }

  /** The socket is gone: no expiry fires. */
  clear(): void {
    clearTimeout(this.expiry);
    this.expiry = undefined;
  }

  private refreshed(verified: Verified<P> | undefined): Promise<void> | undefined {
    const { owner } = this;
    if (owner.state !== 'open') return undefined;
    if (verified === undefined) {
      owner.writer.error(ErrorCode.Unauthorized, 'the new credentials were refused');
      owner.close(CloseCode.Unauthorized, 'unauthorized');
      return undefined;
    }
    owner.principal = verified.principal;
    this.expireAt(verified.expiresAt, Date.now());
    const rechecked = owner.reauthorize();
    const answer = (): void => {
      if (owner.state !== 'open') return;
      const expiresIn = this.expiresIn(Date.now());
      owner.writer.frame(expiresIn === undefined ? { type: 'refreshed' } : { type: 'refreshed', expiresIn });
    };
    if (rechecked === undefined) {
      answer();
      return undefined;
    }
    return rechecked.then(answer);
  }

  /** Arms (or clears) the expiry of the credentials. */
  private expireAt(expiresAt: number | undefined, now: number): void {
    this.clear();
    this.expiresAt = expiresAt;
    if (expiresAt === undefined) return;
    // setTimeout takes at most 2^31-1 ms; an expiry further away is re-armed by the next refresh anyway.
    this.expiry = setTimeout(() => {
      this.owner.writer.error(ErrorCode.Unauthorized, 'the credentials expired');
      this.owner.close(CloseCode.Unauthorized, 'credentials expired');
    }, Math.min(Math.max(0, expiresAt - now), 2 ** 31 - 1));
    this.expiry.unref();
  }
}
