/**
 * How the panel words what it shows: a connection's transitions and name,
 * a debugger action, a stream's state, and each log entry's text, latency
 * and tone. Pure functions of the model's records, no DOM.
 */
import type { DebugAction } from '@rxmux/core/debug';
import { formatBytes, formatDuration } from './format.js';
import { jsonPreview } from './filter.js';
import type { ConnectionInfo, LogEntry, Transition } from './model.js';

export const STATUS_LABEL: Record<string, string> = { connecting: 'connecting', open: 'open', reconnecting: 'reconnecting', closed: 'closed', failed: 'failed', unknown: '—' };

export function transitionText(t: Transition): string {
  const parts: string[] = [t.to];
  if (t.attempt !== undefined) parts.push(`#${t.attempt}`);
  if (t.retryIn !== undefined) parts.push(`in ${formatDuration(t.retryIn)}`);
  if (t.code !== undefined) parts.push(`(${t.code}${t.reason ? ` ${t.reason}` : ''})`);
  else if (t.reason) parts.push(`(${t.reason})`);
  if (t.resumed === true) parts.push('· resumed');
  else if (t.resumed === false) parts.push('· new session');
  return parts.join(' ');
}

/** A connection as rows name it: its URL once known (empty until its `connection` event), else its id. */
export function connectionName(info: ConnectionInfo | undefined, id: string): string {
  return info === undefined || info.url === '' ? id : info.url;
}

export function actionText(action: DebugAction): string {
  switch (action.type) {
    case 'drop':
      return 'drop the connection';
    case 'pause':
      return `pause ${action.channel}`;
    case 'resume':
      return `resume ${action.channel}`;
    case 'send':
      return `send ${jsonPreview(action.data, 200)}`;
  }
}

/** The one-line summary of a log entry's record. */

/** `sse open`, `poll retrying in 2 s (RXMUX_ERR_CONNECTION_LOST)`: an event stream's state in words. */
export function streamText(s: { readonly transport: 'sse' | 'poll'; readonly state: string; readonly retryIn?: number | undefined; readonly code?: string | undefined }): string {
  const retry = s.retryIn === undefined ? '' : ` in ${formatDuration(s.retryIn)}`;
  return `${s.transport} ${s.state}${retry}${s.code === undefined ? '' : ` (${s.code})`}`;
}

export function entryText(entry: LogEntry): string {
  const r = entry.record;
  switch (r.type) {
    case 'frame': {
      if (r.binary !== undefined) return `binary ${formatBytes(r.binary.length)}  ${(r.binary.head.match(/../g) ?? []).slice(0, 16).join(' ')}${r.binary.length > 16 ? ' …' : ''}`;
      const bits: string[] = [];
      if (r.data !== undefined) bits.push(jsonPreview(r.data));
      if (r.id !== undefined && r.data === undefined) bits.push(`id ${r.id}`);
      if (r.seq !== undefined && r.frame !== 'publication') bits.push(`seq ${r.seq}`);
      if (r.epoch !== undefined && r.frame !== 'publication') bits.push(`epoch ${r.epoch}`);
      if (r.code !== undefined) bits.push(r.code);
      return bits.join('  ');
    }
    case 'connection':
      return `${r.url}${r.actions ? '  (actions allowed)' : ''}`;
    case 'status':
      return `${r.from} → ${transitionText(r)}`;
    case 'channel':
      if (r.action === 'paused') return 'paused by DevTools: messages are held, in order';
      if (r.action === 'resumed') return 'resumed: held messages delivered';
      return `${r.action}  ${r.subscribers} subscriber${r.subscribers === 1 ? '' : 's'}`;
    case 'stream':
      return streamText(r);
    case 'request':
      return `#${r.id} ${r.outcome}${r.code ? ` ${r.code}` : ''}`;
    case 'ack':
      return `#${r.id} ${r.outcome}${r.code ? ` ${r.code}` : ''}`;
    case 'gap':
      return `${r.reason}: since ${r.since ?? '?'} → seq ${r.seq}${r.epoch ? ` epoch ${r.epoch}` : ''}`;
    case 'drop':
      return `${r.reason}  ${formatBytes(r.bytes)}${r.id === undefined ? '' : `  id ${r.id}`}`;
    case 'error':
      return `${r.code}: ${r.message}`;
    case 'panel-action':
      return `DevTools: ${actionText(r.action)}`;
    case 'disposed':
      return 'closed for good (conn.close())';
  }
}

/** Latency shown on a row: a reply's round trip and an acked send's (read now: the tap reports them after the frame), an ack's or a request event's. */
export function entryLatency(entry: LogEntry): number | undefined {
  const r = entry.record;
  if (r.type === 'frame') return r.frame === 'response' || r.frame === 'request-error' ? entry.pair?.latency : r.frame === 'message' ? entry.ack?.latency : undefined;
  return entry.latency;
}

export function entryTone(entry: LogEntry): string {
  const r = entry.record;
  if (r.type === 'error' || r.type === 'drop' || (r.type === 'frame' && (r.frame === 'error' || r.frame === 'request-error' || r.frame === 'channel-error'))) return 'error';
  if (r.type === 'gap' || (r.type === 'frame' && (r.frame === 'gap' || r.frame === 'reset'))) return 'warning';
  if (r.type === 'panel-action') return 'action';
  if (r.type === 'frame') return r.dir;
  return 'meta';
}
