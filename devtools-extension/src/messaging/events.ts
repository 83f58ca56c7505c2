/**
 * Runtime validators of the core's debug vocabulary (`DebugEvent`,
 * `DebugAction`, `DebugTap` from `@rxmux/core/debug`, version
 * {@link DEBUG_PROTOCOL_VERSION}). The types are the core's; only the checks
 * live here, because the extension receives these values from places it
 * cannot trust (a page's `postMessage`, an imported file, a page's tap).
 * @packageDocumentation
 */
import type { ConnectionStatus } from '@rxmux/core';
import { DEBUG_PROTOCOL_VERSION, type DebugAction, type DebugChannelEvent, type DebugEvent, type DebugStreamEvent, type DebugTap, type DebugTransport } from '@rxmux/core/debug';
import { FrameType, type FrameTypeName } from '@rxmux/core/protocol';
import { isFiniteNumber, isOneOf, isRecord, isShortString, isUint, optional } from './guards.js';

/** The debug vocabulary version this extension reads: a tap of another version is not listened to. */
export const SUPPORTED_TAP_VERSION = DEBUG_PROTOCOL_VERSION;

/** Channel actions a tap reports. */
export const CHANNEL_ACTIONS: readonly DebugChannelEvent['action'][] = ['join', 'joined', 'leave', 'paused', 'resumed'];

/** Connection statuses, as the core names them. */
export const STATUSES: readonly ConnectionStatus[] = ['connecting', 'open', 'reconnecting', 'closed', 'failed'];

/** States of a connection's event stream (SSE or long-poll). */
export const STREAM_STATES: readonly DebugStreamEvent['state'][] = ['connecting', 'open', 'retrying', 'closed', 'failed'];

/** Transports a debug event may name. */
export const TRANSPORTS: readonly DebugTransport[] = ['ws', 'sse', 'poll'];

/** What `DebugFrameEvent.frame` may be: a frame type, or an SSE / long-poll event name. */
export type DebugFrameName = FrameTypeName | 'ready' | 'reset' | 'channel-error';

/** Every value of `DebugFrameEvent.frame`. */
export const FRAME_NAMES: readonly DebugFrameName[] = [...(Object.keys(FrameType) as FrameTypeName[]), 'ready', 'reset', 'channel-error'];

/** Longest id, channel, url, code or reason accepted from outside. */
const MAX_ID = 1024;

function isBinary(value: unknown): boolean {
  return isRecord(value) && isUint(value.length) && typeof value.head === 'string' && value.head.length <= 128 && /^[0-9a-f]*$/.test(value.head);
}

/**
 * Whether `value` is a well-formed {@link DebugEvent}. Checks the
 * discriminant and every field the panel reads; JSON payloads (`data`) are
 * not walked here: their size is bounded by the caller (see `jsonLength`).
 */
export function isDebugEvent(value: unknown): value is DebugEvent {
  if (!isRecord(value) || !isShortString(value.conn, MAX_ID) || !isFiniteNumber(value.at)) return false;
  const v = value;
  switch (v.type) {
    case 'connection':
      return isShortString(v.url, 8192) && typeof v.actions === 'boolean';
    case 'status':
      return (
        isOneOf(v.from, STATUSES) &&
        isOneOf(v.to, STATUSES) &&
        optional(v.attempt, isUint) &&
        optional(v.retryIn, isFiniteNumber) &&
        optional(v.code, isUint) &&
        optional(v.reason, isShortString) &&
        optional(v.resumed, (r): r is boolean => typeof r === 'boolean')
      );
    case 'frame':
      return (
        isOneOf(v.dir, ['in', 'out'] as const) &&
        isOneOf(v.transport, TRANSPORTS) &&
        isOneOf(v.frame, FRAME_NAMES) &&
        optional(v.channel, (c): c is string => isShortString(c, MAX_ID)) &&
        isUint(v.bytes) &&
        optional(v.binary, (b): b is object => isBinary(b)) &&
        optional(v.seq, isUint) &&
        optional(v.epoch, (e): e is string => isShortString(e, MAX_ID)) &&
        optional(v.id, isUint) &&
        optional(v.code, (c): c is string => isShortString(c, MAX_ID)) &&
        typeof v.data !== 'function'
      );
    case 'channel':
      return isShortString(v.channel, MAX_ID) && isOneOf(v.transport, TRANSPORTS) && isOneOf(v.action, CHANNEL_ACTIONS) && isUint(v.subscribers);
    case 'stream':
      return (
        isOneOf(v.transport, ['sse', 'poll'] as const) &&
        isOneOf(v.state, STREAM_STATES) &&
        isUint(v.channels) &&
        optional(v.retryIn, isFiniteNumber) &&
        optional(v.code, (c): c is string => isShortString(c, MAX_ID))
      );
    case 'request':
      return (
        isShortString(v.channel, MAX_ID) &&
        isUint(v.id) &&
        isFiniteNumber(v.latency) &&
        isOneOf(v.outcome, ['response', 'error', 'timeout', 'cancelled'] as const) &&
        optional(v.code, (c): c is string => isShortString(c, MAX_ID))
      );
    case 'ack':
      return (
        isShortString(v.channel, MAX_ID) &&
        isUint(v.id) &&
        isFiniteNumber(v.latency) &&
        isOneOf(v.outcome, ['acked', 'refused', 'timeout'] as const) &&
        optional(v.code, (c): c is string => isShortString(c, MAX_ID))
      );
    case 'gap':
      return (
        isShortString(v.channel, MAX_ID) &&
        isOneOf(v.transport, TRANSPORTS) &&
        isShortString(v.reason, MAX_ID) &&
        optional(v.since, isUint) &&
        isUint(v.seq) &&
        optional(v.epoch, (e): e is string => isShortString(e, MAX_ID))
      );
    case 'drop':
      return isShortString(v.channel, MAX_ID) && isShortString(v.reason, MAX_ID) && isUint(v.bytes) && optional(v.id, isUint);
    case 'error':
      return isShortString(v.code, MAX_ID) && isShortString(v.message) && optional(v.channel, (c): c is string => isShortString(c, MAX_ID));
    case 'disposed':
      return true;
    default:
      return false;
  }
}

/** What a page's hook was handed, as far as the hook uses it: a {@link DebugTap} of any version. */
export function isTapLike(value: unknown): value is DebugTap {
  const tap = value as Partial<DebugTap> | null;
  return typeof tap === 'object' && tap !== null && isShortString(tap.id, MAX_ID) && typeof tap.listen === 'function' && typeof tap.act === 'function';
}

/** Whether `tap` speaks the vocabulary this extension reads ({@link DebugTap.version}). */
export function isSupportedTap(tap: DebugTap): boolean {
  return tap.version === SUPPORTED_TAP_VERSION;
}

/** Whether `value` is a well-formed {@link DebugAction}. */
export function isDebugAction(value: unknown): value is DebugAction {
  if (!isRecord(value)) return false;
  switch (value.type) {
    case 'drop':
      return true;
    case 'pause':
    case 'resume':
      return isShortString(value.channel, MAX_ID);
    case 'send':
      return isShortString(value.channel, MAX_ID) && value.data !== undefined && typeof value.data !== 'function';
    default:
      return false;
  }
}

/** Whether every element of `value` is a {@link DebugEvent} (and there are at most `max`). */
export function isDebugEventList(value: unknown, max: number): value is DebugEvent[] {
  return Array.isArray(value) && value.length <= max && value.every(isDebugEvent);
}
