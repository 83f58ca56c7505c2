/**
 * A tiny element builder: the panel builds its DOM with `createElement` and
 * `textContent` only, never `innerHTML`, so page data cannot become markup.
 * @packageDocumentation
 */

/** Attributes and properties of {@link h}. `on*` functions become listeners; `class` and `data-*` are attributes. */
export type Props = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

/** Creates an element with props and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: (Node | string | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key in el && !key.includes('-') && key !== 'class' && key !== 'list') Reflect.set(el, key, value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined) el.append(child);
  return el;
}
