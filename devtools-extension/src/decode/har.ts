/**
 * A HAR file saved from Chrome's Network panel → {@link DebugEvent}s, per
 * channel: how a bug report's recording is read back. Chrome records a
 * WebSocket as an entry with `_resourceType: 'websocket'` and its messages
 * in `_webSocketMessages` (`type` `'send'`/`'receive'`, `time` in seconds,
 * `opcode` 1 text / 2 binary with base64 `data`). No extension API here.
 * @packageDocumentation
 */
import type { DebugEvent } from '@rxmux/core/debug';
import { subprotocolVersion } from '@rxmux/core/protocol';
import { isFiniteNumber, isRecord } from '../messaging/guards.js';
import { base64ToBytes, WireConnection } from './wire.js';

/** What {@link decodeHar} found. */
export interface HarDecodeResult {
  readonly events: DebugEvent[];
  /** rxmux sockets found. */
  readonly sockets: number;
  /** WebSocket entries skipped because they speak another protocol. */
  readonly skipped: number;
}

/** Whether `value` looks like a HAR document (`{ log: { entries: [] } }`). */
export function isHar(value: unknown): boolean {
  return isRecord(value) && isRecord(value.log) && Array.isArray(value.log.entries);
}

function subprotocol(response: unknown): string | undefined {
  if (!isRecord(response) || !Array.isArray(response.headers)) return undefined;
  for (const header of response.headers) {
    if (isRecord(header) && typeof header.name === 'string' && header.name.toLowerCase() === 'sec-websocket-protocol' && typeof header.value === 'string') {
      return header.value.trim();
    }
  }
  return undefined;
}

/**
 * Decodes every rxmux WebSocket of a HAR document, in time order. A socket
 * counts as rxmux when its handshake chose `rxmux.v1` or `rxmux.v2`, or, for HARs saved
 * without headers, when its first message decodes.
 */
export function decodeHar(har: unknown): HarDecodeResult {
  const events: DebugEvent[] = [];
  let sockets = 0;
  let skipped = 0;
  if (!isHar(har)) return { events, sockets, skipped };
  const entries = (har as { log: { entries: unknown[] } }).log.entries;
  entries.forEach((entry, index) => {
    if (!isRecord(entry) || !Array.isArray(entry._webSocketMessages)) return;
    if (entry._resourceType !== undefined && entry._resourceType !== 'websocket') return;
    const request = isRecord(entry.request) ? entry.request : {};
    const url = typeof request.url === 'string' ? request.url : 'ws://(unknown)';
    const protocol = subprotocol(entry.response);
    if (protocol !== undefined && subprotocolVersion(protocol) === undefined) {
      skipped++;
      return;
    }
    const started = typeof entry.startedDateTime === 'string' ? Date.parse(entry.startedDateTime) : Number.NaN;
    const messages = entry._webSocketMessages.filter(isRecord);
    const firstTime = messages.find((m) => isFiniteNumber(m.time))?.time;
    const start = Number.isFinite(started) ? started : isFiniteNumber(firstTime) ? firstTime * 1000 : 0;
    const socket = new WireConnection(`har-ws-${index}`, url);
    const own: DebugEvent[] = [...socket.opened(start)];
    let last = start;
    for (const m of messages) {
      const at = isFiniteNumber(m.time) ? Math.round(m.time * 1000) : last;
      last = Math.max(last, at);
      const dir = m.type === 'send' ? 'out' : m.type === 'receive' ? 'in' : undefined;
      if (dir === undefined || typeof m.data !== 'string') continue;
      const payload = m.opcode === 2 ? base64ToBytes(m.data) : m.opcode === 1 ? m.data : undefined;
      if (payload === undefined) continue;
      own.push(...socket.message({ dir, at, payload }));
    }
    if (protocol === undefined && !own.some((e) => e.type === 'frame')) {
      skipped++;
      return;
    }
    const duration = isFiniteNumber(entry.time) ? start + entry.time : last;
    own.push(...socket.status('closed', Math.max(last, Math.round(duration))));
    events.push(...own);
    sockets++;
  });
  // Sockets overlap in time; the panel expects one stream in order. A stable sort keeps each socket's order.
  events.sort((a, b) => a.at - b.at);
  return { events, sockets, skipped };
}
