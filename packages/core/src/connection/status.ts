import { BehaviorSubject, distinctUntilChanged, queueScheduler, Subject, type Observable, type SchedulerLike } from 'rxjs';

/**
 * The connection's state. Transitions (anything else is ignored):
 *
 * | from           | to             | when |
 * | -------------- | -------------- | ---- |
 * | `closed`       | `connecting`   | the first channel subscribes, or a send/request needs the socket |
 * | `connecting`   | `open`         | the server's welcome arrived |
 * | `connecting`   | `reconnecting` | the socket failed before the welcome (a retry is scheduled) |
 * | `open`         | `reconnecting` | the socket closed, errored, or went silent past the heartbeat window |
 * | `reconnecting` | `reconnecting` | the next attempt is scheduled (`attempt`, `retryIn` tell when) |
 * | `reconnecting` | `open`         | a retry succeeded; every active channel is re-joined, the buffer flushed |
 * | `connecting`, `reconnecting` | `failed` | `maxAttempts` reached, or the close code is fatal |
 * | `open`         | `failed`       | the server closed with a fatal code (4401: the credentials expired or a refresh was refused) |
 * | `failed`       | `connecting`   | a channel subscribes again after the failure |
 * | any            | `closed`       | nothing needs the socket any more (after the linger), or `conn.close()` |
 */
export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed';

/** One change of {@link ConnectionStatus}, as emitted by `conn.transitions$`. */
export interface StatusTransition {
  readonly from: ConnectionStatus;
  readonly to: ConnectionStatus;
  /** Scheduler time of the change, in ms. */
  readonly at: number;
  /** Reconnect attempt number (1-based), on transitions to `reconnecting`. */
  readonly attempt?: number;
  /** Delay before that attempt, in ms, on transitions to `reconnecting`. */
  readonly retryIn?: number;
  /** Close code of the socket that was lost, when there was one. */
  readonly code?: number;
  /** Close reason, or the error message, that caused the change. */
  readonly reason?: string;
  /** The error that caused the change, if any. */
  readonly error?: Error;
}

const ALLOWED: Readonly<Record<ConnectionStatus, readonly ConnectionStatus[]>> = {
  closed: ['connecting'],
  connecting: ['open', 'reconnecting', 'failed', 'closed'],
  open: ['reconnecting', 'failed', 'closed'],
  reconnecting: ['reconnecting', 'open', 'failed', 'closed'],
  failed: ['connecting', 'closed'],
};

/** Whether the table above allows `from` → `to`. @internal */
export function canTransition(from: ConnectionStatus, to: ConnectionStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** What a transition carries besides `from`, `to` and `at`. @internal */
export type TransitionCause = Omit<StatusTransition, 'from' | 'to' | 'at'>;

/**
 * The connection's state machine: one `transition()`, the table above as its
 * guard, and two streams. A transition requested while another is being
 * announced (by a `status$` or `transitions$` subscriber) runs after it, on
 * the `queueScheduler` (RxJS's trampoline), so both streams tell every
 * change in the same order.
 * @internal
 */
export class StatusMachine {
  /** Current status, replayed to every new subscriber. */
  readonly status$: Observable<ConnectionStatus>;
  /** Every change with its cause. Hot, not replayed. */
  readonly transitions$: Observable<StatusTransition>;
  readonly #status = new BehaviorSubject<ConnectionStatus>('closed');
  readonly #transitions = new Subject<StatusTransition>();

  constructor(private readonly scheduler: SchedulerLike) {
    this.status$ = this.#status.pipe(distinctUntilChanged());
    this.transitions$ = this.#transitions.asObservable();
  }

  /** The status now. */
  get value(): ConnectionStatus {
    return this.#status.value;
  }

  /** Moves to `to` if the table allows it (otherwise nothing happens). */
  transition(to: ConnectionStatus, cause: TransitionCause = {}): void {
    queueScheduler.schedule(() => {
      const from = this.#status.value;
      if (this.#status.closed || !canTransition(from, to)) return;
      this.#status.next(to);
      this.#transitions.next({ from, to, at: this.scheduler.now(), ...cause });
    });
  }

  /** Completes both streams (the connection closed for good). */
  complete(): void {
    this.#transitions.complete();
    this.#status.complete();
  }
}
