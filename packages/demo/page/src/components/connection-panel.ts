import { ConnectionController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { auditTime, combineLatest, scan, startWith } from 'rxjs';
import { wireStats$ } from '../instrument';
import { cardCss } from './card';

/**
 * `<connection-panel>`: how many WebSockets and EventSources the page holds
 * (counted by wrapping the constructors, see `instrument.ts`), messages per
 * channel as seen on the wire, and the connection's dropped messages.
 */
export class ConnectionPanel extends LitElement {
  static override styles = [
    unsafeCSS(cardCss),
    css`
      .counts { display: flex; gap: 16px; margin-bottom: 8px; }
      .counts div { background: #0d141c; border-radius: 8px; padding: 6px 10px; }
      .counts .big { display: block; }
      table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
      th { text-align: left; color: var(--muted, #9fb1c3); font-weight: 500; }
      td, th { padding: 1px 4px; }
      td.n { text-align: right; }
      .ok { color: #7ee787; }
      .bad { color: #ff7b72; }
    `,
  ];

  /** The wire counters, and the dropped messages of the nearest <rxmux-connection>'s connection. */
  readonly #counts = new ConnectionController(this, {
    observe: (conn) =>
      combineLatest([
        wireStats$.pipe(auditTime(200)),
        conn.dropped$.pipe(
          scan((n) => n + 1, 0),
          startWith(0),
        ),
      ]),
    onValue: ([stats]) => {
      this.dataset.websockets = String(stats.webSockets.live);
      this.dataset.eventsources = String(stats.eventSources.live);
    },
  });

  protected override render(): unknown {
    if (this.#counts.value === undefined) return html`<h2><span>Connections</span></h2>`;
    const [s, dropped] = this.#counts.value;
    const tone = (n: number): string => (n <= 1 ? 'ok' : 'bad');
    const rows = [...s.channels].sort(([a], [b]) => a.localeCompare(b));
    return html`
      <h2><span>Connections held by this page</span><code>instrumented constructors</code></h2>
      <div class="counts">
        <div><span class="big ${tone(s.webSockets.live)}" data-testid="ws-live">${s.webSockets.live}</span>WebSocket <span class="muted">(${s.webSockets.created} opened in all)</span></div>
        <div><span class="big ${tone(s.eventSources.live)}" data-testid="es-live">${s.eventSources.live}</span>EventSource <span class="muted">(${s.eventSources.created} opened in all)</span></div>
        <div><span class="big">${dropped}</span>dropped</div>
      </div>
      <table>
        <thead><tr><th>channel</th><th>via</th><th class="n">in</th><th class="n">out</th><th class="n">KiB</th></tr></thead>
        <tbody>
          ${rows.map(
            ([channel, t]) =>
              html`<tr><td>${channel}</td><td class="muted">${t.via}</td><td class="n">${t.in}</td><td class="n">${t.out}</td><td class="n">${((t.bytesIn + t.bytesOut) / 1024).toFixed(1)}</td></tr>`,
          )}
        </tbody>
      </table>
    `;
  }
}

if (!customElements.get('connection-panel')) customElements.define('connection-panel', ConnectionPanel);

declare global {
  interface HTMLElementTagNameMap {
    'connection-panel': ConnectionPanel;
  }
}
