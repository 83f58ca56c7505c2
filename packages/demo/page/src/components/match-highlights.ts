import { events } from '@rxmux/core/events';
import { ConnectionController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { cardCss } from './card';

interface Highlight {
  readonly n: number;
  readonly kind: string;
  readonly text: string;
  readonly clock: string;
}

const KEEP = 6;

/** `<match-highlights>`: the latest plays and score events, over the single EventSource (`match-highlights`). */
export class MatchHighlights extends LitElement {
  static override properties = { items: { state: true } };
  static override styles = [
    unsafeCSS(cardCss),
    css`
      ol { list-style: none; margin: 0; padding: 0; }
      li { display: flex; gap: 8px; padding: 2px 0; border-bottom: 1px dashed #243140; }
      li:last-child { border-bottom: 0; }
      .clock { color: var(--muted, #9fb1c3); font-variant-numeric: tabular-nums; min-width: 3.2em; }
      .goal { color: #7ee787; font-weight: 600; }
      .card, .foul { color: #f2cc60; }
    `,
  ];

  declare items: readonly (Highlight & { readonly key: number })[];
  /** Local keys: the server's numbering restarts with the server. */
  #nextKey = 0;

  constructor() {
    super();
    this.items = [];
  }

  readonly #plays = new ConnectionController(this, {
    observe: (conn) => events<Highlight>(conn, 'match-highlights'),
    onValue: (item) => {
      this.items = [{ ...item, key: this.#nextKey++ }, ...this.items].slice(0, KEEP);
      this.dataset.updates = String(Number(this.dataset.updates ?? 0) + 1);
    },
    onError: () => (this.dataset.state = 'error'),
  });

  protected override render(): unknown {
    return html`
      <h2><span>Highlights</span><code>SSE match-highlights</code></h2>
      ${this.items.length === 0 ? html`<span class="muted">${this.#plays.connection === undefined ? 'no connection' : 'waiting for the first play…'}</span>` : ''}
      <ol>
        ${repeat(
          this.items,
          (item) => item.key,
          (item) => html`<li><span class="clock">${item.clock}</span><span class=${item.kind}>${item.text}</span></li>`,
        )}
      </ol>
    `;
  }
}

if (!customElements.get('match-highlights')) customElements.define('match-highlights', MatchHighlights);

declare global {
  interface HTMLElementTagNameMap {
    'match-highlights': MatchHighlights;
  }
}
