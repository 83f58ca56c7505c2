/**
 * The hello batch's answer in one write (PROTOCOL.md 6.1): a client sends
 * its first `subscribe` frames in the message that carries its `hello`; the
 * welcome, the `subscribed` answers and the first data go back together.
 *
 * ```
 *  [[2,1,…],[4,"a"],[4,"b",41,"Xk3p"]] ──▶ hello: welcome queued, writer held
 *                                          subscribe a, subscribe b (authorize, engine: maybe later turns)
 *                                          every frame that came with the hello handled ──▶ release
 *  ◀── [[3,1,"s-7f3a",…],[6,"a","Q8vT",7],[6,"b","Xk3p",44],[1,"b",…,42],…]   one write
 * ```
 *
 * With a synchronous engine and `authorize` nothing needs holding (the batch
 * is handled in the turn it arrived, and the writer flushes once per turn);
 * an asynchronous one answers in later turns, and without the hold the
 * welcome would leave alone, costing the client a round trip. The hold is
 * bounded: a slow engine or `authorize` must not keep a session from opening.
 */
import type { Writer } from './writer.js';

/** Longest a welcome waits for the answers of its hello batch, in ms. */
export const WELCOME_HOLD_MS = 250;

/** Holds a socket's writer from the hello until the frames that came with it were handled (at most {@link WELCOME_HOLD_MS}). */
export class WelcomeHold {
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly writer: Writer) {
    writer.hold();
    this.timer = setTimeout(() => this.release(), WELCOME_HOLD_MS);
    this.timer.unref();
  }

  /** Lets the held frames go with this turn's flush. Idempotent. */
  release(): void {
    clearTimeout(this.timer);
    this.writer.release();
  }
}
