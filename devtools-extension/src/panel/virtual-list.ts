/**
 * A virtualized list of fixed-height rows: only the rows in view (plus a few)
 * exist in the DOM, whatever the count, so 100,000 entries scroll like 100.
 * Sticks to the bottom while the user is there, as a console does.
 * @packageDocumentation
 */
import { h } from './dom.js';

/** Rows rendered above and below the viewport. */
const OVERSCAN = 8;
/** Viewport height assumed before layout (or where there is none, e.g. a DOM without layout). */
const FALLBACK_HEIGHT = 600;

/** Renders row `index`. */
export type RowRenderer = (index: number) => HTMLElement;

/** See the module comment. */
export class VirtualList {
  readonly element: HTMLElement;
  readonly #spacer: HTMLElement;
  readonly #rows: HTMLElement;
  #count = 0;
  #stick = true;
  #first = -1;
  #last = -1;
  #renderRow: RowRenderer;

  constructor(
    readonly rowHeight: number,
    renderRow: RowRenderer,
    label: string,
  ) {
    this.#renderRow = renderRow;
    this.#rows = h('div', { class: 'vlist-rows', role: 'presentation' });
    this.#spacer = h('div', { class: 'vlist-spacer', role: 'presentation' }, this.#rows);
    this.element = h('div', { class: 'vlist', role: 'grid', 'aria-label': label, 'aria-rowcount': 0, tabindex: 0 }, this.#spacer);
    this.element.addEventListener('scroll', () => {
      const el = this.element;
      this.#stick = el.scrollTop + el.clientHeight >= el.scrollHeight - this.rowHeight;
      this.render(false);
    });
  }

  get count(): number {
    return this.#count;
  }

  /** Sets the row count and re-renders what is in view (`force`: rows changed, not just their number). */
  update(count: number, force = true): void {
    this.#count = count;
    this.element.setAttribute('aria-rowcount', String(count));
    this.#spacer.style.height = `${count * this.rowHeight}px`;
    if (this.#stick) this.element.scrollTop = this.#maxTop();
    this.render(force);
  }

  #maxTop(): number {
    return Math.max(0, this.#count * this.rowHeight - (this.element.clientHeight || FALLBACK_HEIGHT));
  }

  /** Scrolls row `index` into view. */
  reveal(index: number): void {
    const top = index * this.rowHeight;
    const height = this.element.clientHeight || FALLBACK_HEIGHT;
    if (top < this.element.scrollTop) this.element.scrollTop = top;
    else if (top + this.rowHeight > this.element.scrollTop + height) this.element.scrollTop = top + this.rowHeight - height;
    this.render(false);
  }

  /** Re-renders the rows in view; unchanged ranges are left alone unless `force`. */
  render(force = true): void {
    const height = this.element.clientHeight || FALLBACK_HEIGHT;
    // The browser clamps scrollTop to the content; a DOM without layout does not, so clamp here too.
    const top = Math.min(this.element.scrollTop, this.#maxTop());
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const last = Math.min(this.#count, Math.ceil((top + height) / this.rowHeight) + OVERSCAN);
    if (!force && first === this.#first && last === this.#last) return;
    this.#first = first;
    this.#last = last;
    this.#rows.style.transform = `translateY(${first * this.rowHeight}px)`;
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const row = this.#renderRow(i);
      row.setAttribute('aria-rowindex', String(i + 1));
      rows.push(row);
    }
    this.#rows.replaceChildren(...rows);
  }
}
