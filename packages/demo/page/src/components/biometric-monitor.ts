import { ChannelController } from '@rxmux/elements';
import { css, html, LitElement, svg, unsafeCSS } from 'lit';
import { cardCss } from './card';

interface Beat {
  readonly bpm: number;
  readonly t: number;
}

const POINTS = 60;

/** `<biometric-monitor player="player-1">`: a player's simulated heart rate as a live sparkline. */
export class BiometricMonitor extends LitElement {
  static override properties = {
    player: { type: String },
    values: { state: true },
    count: { state: true },
    gaps: { state: true },
  };

  static override styles = [
    unsafeCSS(cardCss),
    css`
      svg { width: 100%; height: 56px; display: block; }
      polyline { fill: none; stroke: var(--heart, #ff6b81); stroke-width: 2; stroke-linejoin: round; }
      .row { display: flex; align-items: baseline; justify-content: space-between; }
    `,
  ];

  declare player: string;
  declare values: readonly number[];
  declare count: number;
  declare gaps: number;

  constructor() {
    super();
    this.player = 'player-1';
    this.values = [];
    this.count = 0;
    this.gaps = 0;
  }

  /** Joins the player's channel while the element is in the document (the connection: the nearest <rxmux-connection>). */
  readonly #beats = new ChannelController<Partial<Beat> | null>(this, () => this.player, {
    // Nothing checks what the server publishes on the way: a beat is checked before use.
    onValue: (beat) => {
      if (typeof beat?.bpm !== 'number') return;
      this.values = [...this.values.slice(-(POINTS - 1)), beat.bpm];
      this.count += 1;
      this.dataset.messages = String(this.count);
    },
    onGap: () => (this.gaps += 1),
    onError: () => (this.dataset.state = 'error'),
  });

  protected override render(): unknown {
    const last = this.values.at(-1);
    // Scale to the visible window (at least 30 bpm tall) so small changes show.
    const low = Math.min(...this.values, 200);
    const high = Math.max(...this.values, 0);
    const mid = (low + high) / 2;
    const half = Math.max(15, (high - low) / 2 + 4);
    const min = mid - half;
    const max = mid + half;
    const points = this.values
      .map((v, i) => `${((i + POINTS - this.values.length) / (POINTS - 1)) * 200},${56 - ((v - min) / (max - min)) * 52 - 2}`)
      .join(' ');
    return html`
      <h2><span>Heart rate</span><code>${this.player}</code></h2>
      <div class="row">
        <span class="big">${last ?? '–'}<span class="muted" style="font-size:12px"> bpm</span></span>
        <span class="muted num" title="messages received / resume notices / join state">${this.count} msgs${this.gaps ? ` · ${this.gaps} gap` : ''}${this.#beats.state === 'joined' ? '' : ` · ${this.#beats.state}`}</span>
      </div>
      <svg viewBox="0 0 200 56" preserveAspectRatio="none" aria-label="heart rate sparkline">${svg`<polyline points=${points}></polyline>`}</svg>
    `;
  }
}

if (!customElements.get('biometric-monitor')) customElements.define('biometric-monitor', BiometricMonitor);

declare global {
  interface HTMLElementTagNameMap {
    'biometric-monitor': BiometricMonitor;
  }
}
