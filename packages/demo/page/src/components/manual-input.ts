import { ChannelController } from '@rxmux/elements';
import { css, html, LitElement, unsafeCSS } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import { Subscription } from 'rxjs';
import { cardCss } from './card';

type Team = 'home' | 'away';
type Kind = 'goal' | 'shot' | 'foul' | 'card';

interface Entry {
  readonly key: number;
  readonly team: Team;
  readonly kind: Kind;
  readonly note: string;
  readonly state: 'pending' | 'delivered' | 'failed';
  /** The message id the server acknowledged, or the error code. */
  readonly detail: string;
}

/** What the server publishes on the channel for every entry it accepted. */
interface Accepted {
  readonly seq: number;
}

/** What the form sends for each entry. */
type Submission = Pick<Entry, 'team' | 'kind' | 'note'>;

const KEEP = 6;

/**
 * `<manual-input>`: a form that sends score events on its channel
 * (`manual-input`) with `{ ack: true }`. Each entry shows pending until the
 * server acknowledged it; entries sent while offline wait in the connection's
 * buffer and are delivered (once) after the reconnect.
 */
export class ManualInput extends LitElement {
  static override properties = {
    channelId: { type: String, attribute: 'channel' },
    entries: { state: true },
    accepted: { state: true },
  };

  static override styles = [
    unsafeCSS(cardCss),
    css`
      form { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
      input[name='note'] { flex: 1 1 8em; min-width: 6em; }
      ol { list-style: none; margin: 0; padding: 0; }
      li { display: flex; justify-content: space-between; gap: 8px; padding: 2px 0; }
      .pending { color: #f2cc60; }
      .delivered { color: #7ee787; }
      .failed { color: #ff7b72; }
      .counts { margin-bottom: 6px; }
    `,
  ];

  declare channelId: string;
  declare entries: readonly Entry[];
  declare accepted: number;
  /** Joins the channel while the form is in the document; `channel` sends on it. */
  readonly #score = new ChannelController<Accepted, Submission>(this, () => this.channelId, {
    onValue: () => (this.accepted += 1),
    onError: () => (this.dataset.state = 'error'),
  });
  /** Waits for the acks of this visit to the page: cancelled when the form leaves. */
  #acks = new Subscription();
  #nextKey = 1;

  constructor() {
    super();
    this.channelId = 'manual-input';
    this.entries = [];
    this.accepted = 0;
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.#acks.unsubscribe();
    this.#acks = new Subscription();
  }

  #set(key: number, state: Entry['state'], detail: string): void {
    this.entries = this.entries.map((e) => (e.key === key ? { ...e, state, detail } : e));
  }

  #submit(event: SubmitEvent): void {
    event.preventDefault();
    const form = event.target as HTMLFormElement;
    const data = new FormData(form);
    const channel = this.#score.channel;
    if (channel === undefined) return;
    const note = data.get('note');
    const entry: Entry = {
      key: this.#nextKey++,
      team: data.get('team') === 'away' ? 'away' : 'home',
      kind: (data.get('kind') as Kind | null) ?? 'goal',
      note: typeof note === 'string' ? note.slice(0, 120) : '', // a text field: never a File
      state: 'pending',
      detail: '',
    };
    this.entries = [entry, ...this.entries].slice(0, KEEP);
    this.#acks.add(
      channel.send({ team: entry.team, kind: entry.kind, note: entry.note }, { ack: true }).subscribe({
        next: (ack) => this.#set(entry.key, 'delivered', `#${ack.id}`),
        error: (error: unknown) => this.#set(entry.key, 'failed', (error as { code?: string }).code ?? String(error)),
      }),
    );
    (form.elements.namedItem('note') as HTMLInputElement | null)?.focus();
    form.reset();
  }

  protected override render(): unknown {
    const pending = this.entries.filter((e) => e.state === 'pending').length;
    const delivered = this.entries.filter((e) => e.state === 'delivered').length;
    return html`
      <h2><span>Manual input</span><code>${this.channelId}</code></h2>
      <form @submit=${(e: SubmitEvent) => this.#submit(e)}>
        <select name="team" aria-label="team"><option value="home">Home</option><option value="away">Away</option></select>
        <select name="kind" aria-label="event"><option>goal</option><option>shot</option><option>foul</option><option>card</option></select>
        <input name="note" placeholder="note (e.g. #9 header)" maxlength="120" autocomplete="off" />
        <button type="submit">Send</button>
      </form>
      <div class="counts muted num"><span class="pending">${pending} pending</span> · <span class="delivered">${delivered} delivered</span> · ${this.accepted} confirmed on the channel</div>
      <ol>
        ${repeat(
          this.entries,
          (e) => e.key,
          (e) => html`<li data-state=${e.state} data-note=${e.note}>
            <span>${e.kind} ${e.team}${e.note ? `: ${e.note}` : ''}</span>
            <span class=${e.state}>${e.state === 'pending' ? '⏳ pending' : e.state === 'delivered' ? `✓ delivered ${e.detail}` : `✗ ${e.detail}`}</span>
          </li>`,
        )}
      </ol>
    `;
  }
}

if (!customElements.get('manual-input')) customElements.define('manual-input', ManualInput);

declare global {
  interface HTMLElementTagNameMap {
    'manual-input': ManualInput;
  }
}
