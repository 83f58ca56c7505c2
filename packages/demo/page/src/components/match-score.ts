import { events } from '@rxmux/core/events';
import { ConnectionController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { cardCss } from './card';

interface Score {
  readonly home: number;
  readonly away: number;
  readonly clock: string;
  readonly paused: boolean;
  readonly events: number;
}

/** `<match-score>`: the score and match clock, over the page's single EventSource (`match-score`). */
export class MatchScore extends LitElement {
  static override styles = [
    unsafeCSS(cardCss),
    css`
      .board { display: grid; grid-template-columns: 1fr auto 1fr; align-items: center; text-align: center; }
      .team { color: var(--muted, #9fb1c3); font-size: 12px; text-transform: uppercase; }
      .score { font-size: 34px; font-weight: 800; font-variant-numeric: tabular-nums; }
      .clock { font-variant-numeric: tabular-nums; background: #0d141c; border-radius: 6px; padding: 2px 8px; }
      .paused { color: #f2cc60; }
    `,
  ];

  /** The page's connection comes from the nearest <rxmux-connection>; the SSE channel follows the element in and out of the document. */
  readonly #score = new ConnectionController(this, {
    observe: (conn) => events<Score>(conn, 'match-score'),
    onValue: () => (this.dataset.updates = String(Number(this.dataset.updates ?? 0) + 1)),
    onError: () => (this.dataset.state = 'error'),
  });

  protected override render(): unknown {
    const s = this.#score.value;
    return html`
      <h2><span>Match score</span><code>SSE match-score</code></h2>
      <div class="board">
        <div><div class="team">Home</div><div class="score">${s?.home ?? '–'}</div></div>
        <div class="clock ${s?.paused ? 'paused' : ''}">${s === undefined ? 'waiting…' : s.paused ? `${s.clock} ⏸` : s.clock}</div>
        <div><div class="team">Away</div><div class="score">${s?.away ?? '–'}</div></div>
      </div>
    `;
  }
}

if (!customElements.get('match-score')) customElements.define('match-score', MatchScore);

declare global {
  interface HTMLElementTagNameMap {
    'match-score': MatchScore;
  }
}
