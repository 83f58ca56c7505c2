/**
 * A collapsible JSON tree on `<details>`/`<summary>` (the platform's
 * disclosure widget: keyboard and screen readers for free). Children are
 * built when a node is first opened, so a huge payload costs nothing until
 * someone looks inside it.
 * @packageDocumentation
 */
import type { JsonValue } from '@rxmux/core/protocol';
import { h } from './dom.js';

/** Children shown per object or array before a "… n more" line. */
const MAX_CHILDREN = 500;

/** A value that is not an object or array: what `jsonNode` shows on one line. */
type JsonScalar = Exclude<JsonValue, object>;

function leaf(value: JsonScalar): HTMLElement {
  if (value === null) return h('span', { class: 'json-null' }, 'null');
  switch (typeof value) {
    case 'string':
      return h('span', { class: 'json-string' }, JSON.stringify(value));
    case 'number':
      return h('span', { class: 'json-number' }, String(value));
    case 'boolean':
      return h('span', { class: 'json-boolean' }, String(value));
    default:
      // Never, by type; a value outside JSON (an `undefined` field) still shows as JavaScript prints it.
      return h('span', {}, String(value));
  }
}

function summary(value: JsonValue[] | Record<string, JsonValue>): string {
  if (Array.isArray(value)) return `Array(${value.length})`;
  const keys = Object.keys(value);
  const preview = keys.slice(0, 4).join(', ');
  return `{${preview}${keys.length > 4 ? ', …' : ''}}`;
}

/** One node: a leaf line, or a disclosure whose children appear when opened. */
export function jsonNode(value: JsonValue, key?: string, open = false): HTMLElement {
  const label = key === undefined ? undefined : h('span', { class: 'json-key' }, key);
  if (value === null || typeof value !== 'object') {
    return h('div', { class: 'json-line' }, label, label === undefined ? undefined : ': ', leaf(value));
  }
  const details = h('details', { class: 'json-node' });
  details.append(h('summary', {}, label, label === undefined ? undefined : ': ', h('span', { class: 'json-summary' }, summary(value))));
  const fill = (): void => {
    if (details.dataset.filled === 'true') return;
    details.dataset.filled = 'true';
    const entries: [string, JsonValue][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
    const box = h('div', { class: 'json-children' });
    for (const [k, v] of entries.slice(0, MAX_CHILDREN)) box.append(jsonNode(v, k));
    if (entries.length > MAX_CHILDREN) box.append(h('div', { class: 'json-more' }, `… ${entries.length - MAX_CHILDREN} more`));
    details.append(box);
  };
  details.addEventListener('toggle', () => {
    if (details.open) fill();
  });
  if (open) {
    fill();
    details.open = true;
  }
  return details;
}

/** A tree of `value`, its root open. */
export function jsonTree(value: JsonValue): HTMLElement {
  return h('div', { class: 'json-tree' }, jsonNode(value, undefined, true));
}
