/**
 * The capture file the panel exports and imports (JSON), and the redaction
 * applied on export: a capture travels in bug reports, so nothing
 * token- or credential-like leaves the browser in it.
 * @packageDocumentation
 */
import type { DebugEvent } from '@rxmux/core/debug';
import type { JsonValue } from '@rxmux/core/protocol';
import { decodeHar, isHar } from '../decode/har.js';
import { isDebugEvent } from '../messaging/events.js';
import { isRecord } from '../messaging/guards.js';

/** The `format` tag of a capture file. */
export const CAPTURE_FORMAT = 'rxmux-devtools-capture';
/** The version of the capture file format. */
export const CAPTURE_VERSION = 1;

/** A capture file. */
export interface CaptureFile {
  readonly format: typeof CAPTURE_FORMAT;
  readonly version: typeof CAPTURE_VERSION;
  /** ISO time of the export. */
  readonly exportedAt: string;
  /** The inspected page (origin and path), when known. */
  readonly page?: string;
  readonly events: readonly DebugEvent[];
}

/** What the marker put in place of a redacted value. */
export const REDACTED = '[redacted]';

/** Keys whose values are credentials. */
const SECRET_KEY = /token|authori[sz]ation|password|passwd|secret|cookie|api[-_]?key|credential|bearer|signature|session[-_]?(id|key)?$|^session$/i;
/** Values that are credentials whatever their key: JWTs, bearer and basic headers. */
const SECRET_VALUE = /^(eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*|(bearer|basic)\s+\S{8,})$/i;
/** Query parameters, from a URL-looking string. */
const URL_QUERY = /^([a-z][a-z0-9+.-]*:\/\/[^?#\s]*)[?#]\S*$/i;

/** A deep copy of `value` with credential-like keys and values replaced by {@link REDACTED}. */
export function redact<T extends JsonValue | DebugEvent>(value: T): T {
  return redactValue(value as JsonValue) as T;
}

function redactValue(value: JsonValue): JsonValue {
  if (typeof value === 'string') {
    if (SECRET_VALUE.test(value.trim())) return REDACTED;
    const url = URL_QUERY.exec(value);
    return url === null ? value : (url[1] as string);
  }
  if (Array.isArray(value)) return value.map(redactValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(v);
    return out;
  }
  return value;
}

/** Serializes a capture, redacted. */
export function exportCapture(events: readonly DebugEvent[], page?: string, now = new Date()): string {
  const file: CaptureFile = {
    format: CAPTURE_FORMAT,
    version: CAPTURE_VERSION,
    exportedAt: now.toISOString(),
    ...(page === undefined ? {} : { page: redact(page) }),
    events: events.map((e) => redact(e)),
  };
  return JSON.stringify(file);
}

/** What an import found. */
export interface ImportResult {
  readonly kind: 'capture' | 'har';
  readonly events: DebugEvent[];
  /** Records that were not valid events (skipped), or HAR sockets of other protocols. */
  readonly skipped: number;
  readonly page?: string;
}

/**
 * Reads a capture file or a HAR file saved from Chrome's Network panel.
 * @throws Error with a message for the user when the text is neither.
 */
export function importCapture(text: string): ImportResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('not a JSON file');
  }
  if (isHar(parsed)) {
    const har = decodeHar(parsed);
    if (har.sockets === 0) throw new Error('no rxmux WebSocket in this HAR file');
    return { kind: 'har', events: har.events, skipped: har.skipped };
  }
  if (!isRecord(parsed) || parsed.format !== CAPTURE_FORMAT || !Array.isArray(parsed.events)) throw new Error('not an rxmux capture or a HAR file');
  if (parsed.version !== CAPTURE_VERSION) throw new Error(`capture version ${String(parsed.version)} is not supported (expected ${CAPTURE_VERSION})`);
  const events = parsed.events.filter(isDebugEvent);
  return { kind: 'capture', events, skipped: parsed.events.length - events.length, ...(typeof parsed.page === 'string' ? { page: parsed.page } : {}) };
}
