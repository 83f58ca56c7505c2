import type { Connection, ConnectionStatus, StatusTransition } from '@rxmux/core';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { ConnectionController } from '@rxmux/elements';
import { combineLatest, interval, map, type Observable, of, scan, startWith, switchMap } from 'rxjs';
import { cardCss } from './card';

interface View {
  readonly status: ConnectionStatus;
  /** When the next reconnect attempt fires (ms since epoch), while reconnecting. */
  readonly retryAt: number | undefined;
  readonly attempt: number | undefined;
  readonly reason: string | undefined;
}

const TEXT: Readonly<Record<ConnectionStatus, string>> = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting',
  closed: 'Idle: no component needs the socket',
  failed: 'Connection failed',
};

/** What the banner shows, and the time the countdown is measured from. */
interface Shown {
  readonly view: View;
  readonly now: number;
}

const IDLE: View = { status: 'closed', retryAt: undefined, attempt: undefined, reason: undefined };

/** The connection's status with the next retry's time, and a clock ticking only while a retry is scheduled. */
function shown$(conn: Connection): Observable<Shown> {
  // transitions$ is not replayed: start from status$'s current value, then fold in each change.
  const retries$ = conn.transitions$.pipe(
    scan(
      (_last: Pick<View, 'retryAt' | 'attempt' | 'reason'>, t: StatusTransition) =>
        t.to === 'reconnecting'
          ? { retryAt: t.retryIn === undefined ? undefined : Date.now() + t.retryIn, attempt: t.attempt, reason: t.reason }
          : { retryAt: undefined, attempt: undefined, reason: t.to === 'failed' ? t.reason : undefined },
      { retryAt: undefined, attempt: undefined, reason: undefined },
    ),
    startWith({ retryAt: undefined, attempt: undefined, reason: undefined }),
  );
  return combineLatest([conn.status$, retries$]).pipe(
    map(([status, r]): View => ({ status, ...r })),
    // A countdown only while a retry is scheduled.
    switchMap((view) => (view.retryAt === undefined ? of(0) : interval(100).pipe(startWith(0))).pipe(map(() => ({ view, now: Date.now() })))),
  );
}

/** `<status-banner>`: the shared connection's `status$`, with the next retry time while reconnecting. */
export class StatusBanner extends LitElement {
  static override styles = [
    unsafeCSS(cardCss),
    css`
      :host { padding: 8px 14px; display: flex; align-items: center; gap: 10px; }
      .dot { width: 10px; height: 10px; border-radius: 50%; background: #6e7681; flex: none; }
      :host([data-status='open']) .dot { background: #3fb950; box-shadow: 0 0 8px #3fb950; }
      :host([data-status='connecting']) .dot, :host([data-status='reconnecting']) .dot { background: #f2cc60; animation: pulse 0.8s infinite alternate; }
      :host([data-status='failed']) .dot { background: #ff7b72; }
      :host([data-status='reconnecting']) { border-color: #f2cc60; }
      :host([data-status='failed']) { border-color: #ff7b72; }
      strong { font-size: 14px; }
      @keyframes pulse { to { opacity: 0.3; } }
    `,
  ];

  /** The connection of the nearest <rxmux-connection>, observed while the banner is in the document. */
  readonly #shown = new ConnectionController(this, {
    observe: shown$,
    onValue: ({ view }) => (this.dataset.status = view.status),
  });

  protected override render(): unknown {
    const { view, now } = this.#shown.value ?? { view: IDLE, now: Date.now() };
    const { status, retryAt, attempt, reason } = view;
    let detail = '';
    if (status === 'reconnecting') {
      const wait = retryAt === undefined ? undefined : Math.max(0, retryAt - now);
      detail =
        wait === undefined || wait === 0
          ? `attempt ${attempt ?? 1}: trying now…`
          : `attempt ${attempt ?? 1} at ${new Date(retryAt as number).toLocaleTimeString()} (in ${(wait / 1000).toFixed(1)} s)`;
      if (reason) detail += ` · lost: ${reason}`;
    } else if (status === 'failed') {
      detail = reason ? `gave up: ${reason}` : 'gave up';
    } else if (status === 'open') {
      detail = 'one WebSocket + one EventSource carry every component below';
    }
    return html`<span class="dot"></span><strong data-testid="status-text">${TEXT[status]}</strong><span class="muted">${detail}</span>`;
  }
}

if (!customElements.get('status-banner')) customElements.define('status-banner', StatusBanner);

declare global {
  interface HTMLElementTagNameMap {
    'status-banner': StatusBanner;
  }
}
