import type { Connection, ConnectionStatus, StatusTransition } from '@rxmux/core';
import { css, html, unsafeCSS } from 'lit';
import { combineLatest, EMPTY, interval, map, merge, of, scan, startWith, Subscription, switchMap } from 'rxjs';
import { cardCss, LiveElement } from './live-element';

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

/** `<status-banner>`: the shared connection's `status$`, with the next retry time while reconnecting. */
export class StatusBanner extends LiveElement {
  static override properties = { view: { state: true }, now: { state: true } };
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

  declare view: View;
  declare now: number;

  constructor() {
    super();
    this.view = { status: 'closed', retryAt: undefined, attempt: undefined, reason: undefined };
    this.now = Date.now();
  }

  protected override live(conn: Connection): Subscription {
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
    const view$ = combineLatest([conn.status$, retries$]).pipe(map(([status, r]): View => ({ status, ...r })));
    const sub = new Subscription();
    sub.add(
      view$.subscribe((view) => {
        this.view = view;
        this.dataset.status = view.status;
      }),
    );
    // A countdown only while a retry is scheduled.
    sub.add(
      view$
        .pipe(switchMap((v) => (v.retryAt === undefined ? EMPTY : merge(of(0), interval(100)))))
        .subscribe(() => (this.now = Date.now())),
    );
    return sub;
  }

  protected override render(): unknown {
    const { status, retryAt, attempt, reason } = this.view;
    let detail = '';
    if (status === 'reconnecting') {
      const wait = retryAt === undefined ? undefined : Math.max(0, retryAt - this.now);
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
