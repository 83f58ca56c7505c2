import type { Connection } from '@rxmux/core';
import { css, html, unsafeCSS } from 'lit';
import { Subscription } from 'rxjs';
import { cardCss, LiveElement } from './live-element';

interface Score {
  readonly home: number;
  readonly away: number;
  readonly clock: string;
  readonly paused: boolean;
  readonly events: number;
}

/** `<match-score>`: the score and match clock, over the page's single EventSource (`match-score`). */
export class MatchScore extends LiveElement {
  static override properties = { score: { state: true } };
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

  declare score: Score | undefined;

  protected override live(conn: Connection): Subscription {
    return conn.events<Score>('match-score').subscribe({
      next: (score) => {
        this.score = score;
        this.dataset.updates = String(Number(this.dataset.updates ?? 0) + 1);
      },
      error: () => (this.dataset.state = 'error'),
    });
  }

  protected override render(): unknown {
    const s = this.score;
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
