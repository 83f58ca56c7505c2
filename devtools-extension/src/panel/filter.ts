/**
 * The panel's log filter (channel, direction, type, free text) and the
 * one-line JSON preview the log rows and the text search share.
 */
import type { JsonValue } from '@rxmux/core/protocol';
import type { LogEntry } from './model.js';

/** The log filter. Empty strings mean "any". */
export interface LogFilter {
  readonly channel: string;
  readonly dir: '' | 'in' | 'out';
  readonly kind: string;
  readonly text: string;
}

/** No filter. */
export const NO_FILTER: LogFilter = { channel: '', dir: '', kind: '', text: '' };

/** A one-line JSON preview (cut at `max` characters). */
export function jsonPreview(value: JsonValue | undefined, max = 300): string {
  if (value === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    // Only an object can fail (a cycle): it has no JSON text, so the preview names what it is, "[object Object]".
    return Object.prototype.toString.call(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function searchText(entry: LogEntry): string {
  const r = entry.record;
  const parts = [entry.kind, entry.channel ?? '', r.conn];
  if (r.type === 'frame') parts.push(jsonPreview(r.data, 4096), r.code ?? '', r.binary?.head ?? '', r.id === undefined ? '' : `#${r.id}`);
  else if (r.type === 'panel-action') parts.push(JSON.stringify(r.action));
  else if (r.type === 'error') parts.push(r.code, r.message);
  else if (r.type === 'status') parts.push(r.from, r.to, r.reason ?? '', r.code === undefined ? '' : String(r.code));
  else if (r.type === 'gap' || r.type === 'drop') parts.push(r.reason);
  else if (r.type === 'request' || r.type === 'ack') parts.push(r.outcome, r.code ?? '');
  return parts.join(' ').toLowerCase();
}

/** Whether `entry` passes `filter`. */
export function matches(entry: LogEntry, filter: LogFilter): boolean {
  if (filter.channel !== '' && entry.channel !== filter.channel) return false;
  if (filter.kind !== '' && entry.kind !== filter.kind) return false;
  if (filter.dir !== '') {
    const r = entry.record;
    if (r.type !== 'frame' || r.dir !== filter.dir) return false;
  }
  if (filter.text !== '') {
    entry.search ??= searchText(entry);
    if (!entry.search.includes(filter.text.toLowerCase())) return false;
  }
  return true;
}
