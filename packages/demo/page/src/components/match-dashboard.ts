import { events } from '@rxmux/core/events';
import { ConnectionController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { cardCss } from './card';

interface Dashboard {
  readonly clock: string;
  readonly players: readonly { readonly id: string; readonly bpm: number }[];
  readonly audioBytes: number;
  readonly scoreEvents: number;
  readonly connections: number;
  readonly streams: number;
  readonly channels: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly framesOut: number;
}

/** `<match-dashboard>`: match and server statistics, over the single EventSource (`match-dashboard`). */
export class MatchDashboard extends LitElement {
  static override styles = [
    unsafeCSS(cardCss),
    css`
      dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
      dt { color: var(--muted, #9fb1c3); }
      dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
      .players { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
      .players span { background: #0d141c; border-radius: 6px; padding: 2px 6px; font-variant-numeric: tabular-nums; }
    `,
  ];

  readonly #stats = new ConnectionController(this, {
    observe: (conn) => events<Dashboard>(conn, 'match-dashboard'),
    onValue: () => (this.dataset.updates = String(Number(this.dataset.updates ?? 0) + 1)),
    onError: () => (this.dataset.state = 'error'),
  });

  protected override render(): unknown {
    const s = this.#stats.value;
    if (s === undefined) return html`<h2><span>Dashboard</span><code>SSE match-dashboard</code></h2><span class="muted">waiting…</span>`;
    const batching = s.messagesOut === 0 ? 1 : s.framesOut / s.messagesOut;
    return html`
      <h2><span>Dashboard</span><code>SSE match-dashboard</code></h2>
      <div class="players">${s.players.map((p) => html`<span>${p.id.replace('player-', 'P')} ♥ ${p.bpm}</span>`)}</div>
      <dl>
        <dt>server WebSockets / SSE streams</dt><dd>${s.connections} / ${s.streams}</dd>
        <dt>channels with subscribers</dt><dd>${s.channels}</dd>
        <dt>audio received</dt><dd>${(s.audioBytes / 1024).toFixed(0)} KiB</dd>
        <dt>score events received</dt><dd>${s.scoreEvents}</dd>
        <dt>WebSocket messages in / out</dt><dd>${s.messagesIn} / ${s.messagesOut}</dd>
        <dt>envelopes per write</dt><dd>${batching.toFixed(2)}</dd>
      </dl>
    `;
  }
}

if (!customElements.get('match-dashboard')) customElements.define('match-dashboard', MatchDashboard);

declare global {
  interface HTMLElementTagNameMap {
    'match-dashboard': MatchDashboard;
  }
}
