/**
 * What the server must answer, from PROTOCOL.md's session rules (5, 6.3,
 * 6.4, 14.2, 14.3), for the fuzz server's handlers: `relay-*` republishes
 * what it gets (the README's relay), `echo` answers requests with their
 * data, `fail` always throws, `deny-*` is refused by `authorize`, any other
 * channel has no handler. The model keeps one connection's state (joined
 * channels, the ids whose handler ran) and predicts, for each WebSocket
 * message, the error frames of its malformed envelopes, the ordered answers
 * of its frames, the publications the relay sends back, and a close.
 * {@link judge} then compares what the server sent with the prediction.
 */
import { CLIENT_FRAMES, Code, CODEC_CODES, isUtf8, SPEC_MAX_DEPTH, specDecode, type SpecError, type SpecFrame, type SpecLimits } from './spec.js';

/** A WebSocket message the fuzz sends: text, binary, or a text frame whose bytes need not be UTF-8. */
export type WsMessage =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }
  | { readonly kind: 'raw-text'; readonly bytes: Uint8Array };

/** The server's configuration the model needs. */
export interface ServerFacts {
  readonly limits: SpecLimits;
  readonly maxChannelsPerConnection: number;
}

/** A remembered answer (6.4): what a duplicate id gets again. */
type Answer = { readonly kind: 'ack' } | { readonly kind: 'error'; readonly code: string; readonly channel: string };

/** One connection's state as the model knows it. */
export interface ConnectionModel {
  phase: 'awaiting-hello' | 'open' | 'closed';
  readonly joined: Set<string>;
  /** Every channel joined at some point (a publication queued before an unsubscribe may still arrive). */
  readonly everJoined: Set<string>;
  /** Message ids whose handler ran, and their answer. */
  readonly handled: Map<number, Answer>;
  /** Request ids answered by a handler. */
  readonly replies: Map<number, { readonly kind: 'response'; readonly data: unknown } | { readonly kind: 'request-error'; readonly code: string }>;
  /** Last seq seen per channel (publications must follow it, once each, in order). */
  readonly last: Map<string, number>;
  /** What `hello.limits.maxFrameBytes` asked for (publications larger reach us as `gap` `too-big`). */
  peerMaxFrameBytes: number | undefined;
}

export function newConnection(): ConnectionModel {
  return { phase: 'awaiting-hello', joined: new Set(), everJoined: new Set(), handled: new Map(), replies: new Map(), last: new Map(), peerMaxFrameBytes: undefined };
}

/** An answer the server must send, in order. */
export type Expected =
  | { readonly kind: 'welcome'; readonly named: boolean }
  | { readonly kind: 'error'; readonly codes: readonly string[]; readonly channel?: string; readonly id?: number }
  | { readonly kind: 'pong'; readonly t?: number }
  | { readonly kind: 'subscribed'; readonly channel: string; readonly fresh: boolean; readonly since?: number }
  | { readonly kind: 'unsubscribed'; readonly channel: string; readonly codes: readonly string[] }
  | { readonly kind: 'ack'; readonly id: number }
  | { readonly kind: 'response'; readonly id: number; readonly data?: unknown; readonly ticket?: boolean }
  | { readonly kind: 'request-error'; readonly id: number; readonly codes: readonly string[] };

/** A publication the relay must send back to this connection (it joined the channel it sent on). */
export interface Relay {
  readonly channel: string;
  readonly data: unknown;
}

/** The model's prediction for one case (one or more messages). */
export interface Prediction {
  /** Malformed envelopes' errors: at most 16 per message; compared as a multiset (they precede the frames' answers). */
  readonly decodeErrors: SpecError[];
  readonly answers: Expected[];
  readonly relays: Relay[];
  /** The close codes allowed, when the case must end the connection. */
  close: readonly number[] | undefined;
}

const RESERVED = '$rxmux.';
const TICKET = '$rxmux.ticket';
const MAX_ERRORS_PER_MESSAGE = 16;

/** The largest seq a publication can carry (what the server reserves room for when it checks a publication's size). */
const MAX_SEQ = 9007199254740991;

/**
 * How deeply `value` nests arrays and objects (a scalar: 0). Section 10:
 * a frame nests at most `MAX_DEPTH` levels with its envelope and the batch it
 * may travel in, so the data of a frame a server sends nests at most
 * `MAX_DEPTH` − 2 levels ("a message's data: 62 levels"); encoders refuse more.
 */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null || v instanceof Uint8Array) continue;
    deepest = Math.max(deepest, d + 1);
    for (const child of Object.values(v)) stack.push([child, d + 1]);
  }
  return deepest;
}

/** Whether data can be the data of a frame the server encodes (JSON, and nesting within the room an envelope in a batch leaves). */
function encodable(data: unknown): boolean {
  try {
    JSON.stringify(data);
  } catch {
    return false;
  }
  return depthOf(data) <= SPEC_MAX_DEPTH - 2;
}

/** Whether `publish(channel, data)` throws (README: a publication over maxFrameBytes, or data that cannot be encoded). */
function publishFails(channel: string, data: unknown, maxFrameBytes: number): boolean {
  if (data instanceof Uint8Array) return 3 + Buffer.byteLength(channel) + 8 + data.byteLength > maxFrameBytes;
  return !encodable(data) || JSON.stringify([1, channel, data, MAX_SEQ]).length > maxFrameBytes;
}

/** Feeds one message to the model; appends to `p`. */
function predictMessage(m: ConnectionModel, message: WsMessage, facts: ServerFacts, p: Prediction): void {
  if (m.phase === 'closed') return;
  if (message.kind === 'raw-text' && !isUtf8(message.bytes)) {
    // 14.3: a text frame that is not UTF-8 closes with 1007.
    close(m, p, [1007]);
    return;
  }
  const size = message.kind === 'text' ? Buffer.byteLength(message.text) : message.bytes.byteLength;
  if (size > facts.limits.maxFrameBytes) {
    close(m, p, [1009]);
    return;
  }
  const data = message.kind === 'raw-text' ? Buffer.from(message.bytes).toString('utf8') : message.kind === 'text' ? message.text : message.bytes;
  const envelopes = specDecode(data, facts.limits);
  let errors = 0;
  for (const e of envelopes) if ('error' in e && errors++ < MAX_ERRORS_PER_MESSAGE) p.decodeErrors.push(e.error);
  for (const e of envelopes) {
    if (!('frame' in e)) continue;
    frame(m, e.frame, facts, p);
    if (p.close !== undefined) return; // closed: nothing after it runs
  }
}

function close(m: ConnectionModel, p: Prediction, codes: readonly number[]): void {
  m.phase = 'closed';
  p.close = codes;
}

/** One frame, in the connection's state (14.2). */
function frame(m: ConnectionModel, f: SpecFrame, facts: ServerFacts, p: Prediction): void {
  const a = p.answers;
  if (m.phase === 'awaiting-hello') {
    if (f.type === 'pong') return;
    if (f.type !== 'hello') {
      a.push({ kind: 'error', codes: [Code.UnexpectedFrame] });
      close(m, p, [4400]);
      return;
    }
    if (f.version !== 1) {
      a.push({ kind: 'error', codes: [Code.UnsupportedProtocol] });
      close(m, p, [4406]);
      return;
    }
    m.phase = 'open';
    const limits = f.limits as { maxFrameBytes: number } | undefined;
    if (limits !== undefined) m.peerMaxFrameBytes = Math.max(1024, Math.min(facts.limits.maxFrameBytes, limits.maxFrameBytes));
    a.push({ kind: 'welcome', named: f.session !== undefined });
    return;
  }
  const channel = typeof f.channel === 'string' ? f.channel : '';
  const id = typeof f.id === 'number' ? f.id : undefined;
  switch (f.type) {
    case 'hello':
    case 'refresh': // this server takes no credentials from the client (5.18)
      a.push({ kind: 'error', codes: [Code.UnexpectedFrame] });
      return;
    case 'pong':
    case 'cancel': // unknown or answered ids are ignored; requests here answer at once
      return;
    case 'ping':
      a.push(f.t === undefined ? { kind: 'pong' } : { kind: 'pong', t: f.t as number });
      return;
    case 'unsubscribe':
      m.joined.delete(channel);
      return;
    case 'subscribe': {
      const since = typeof f.since === 'number' ? f.since : undefined;
      if (channel.startsWith(RESERVED)) {
        a.push({ kind: 'unsubscribed', channel, codes: [Code.Forbidden] });
        return;
      }
      if (m.joined.has(channel)) {
        a.push({ kind: 'subscribed', channel, fresh: false }); // subscribing twice answers subscribed again, with where it stands
        return;
      }
      const full = m.joined.size >= facts.maxChannelsPerConnection;
      const denied = channel.startsWith('deny-');
      if (full || denied) {
        // 5.4 lists both refusals without an order: a denied channel at the limit may get either.
        a.push({ kind: 'unsubscribed', channel, codes: [...(full ? [Code.TooManyChannels] : []), ...(denied ? [Code.Forbidden] : [])] });
        return;
      }
      m.joined.add(channel);
      m.everJoined.add(channel);
      a.push(since === undefined ? { kind: 'subscribed', channel, fresh: true } : { kind: 'subscribed', channel, fresh: true, since });
      return;
    }
    case 'message': {
      if (channel.startsWith(RESERVED) || channel.startsWith('deny-')) {
        a.push({ kind: 'error', codes: [Code.Forbidden], channel, ...(id === undefined ? {} : { id }) });
        return;
      }
      const relay = channel.startsWith('relay-');
      if (!relay && channel !== 'fail') {
        a.push({ kind: 'error', codes: [Code.NoHandler], channel, ...(id === undefined ? {} : { id }) });
        return;
      }
      const remembered = id === undefined ? undefined : m.handled.get(id);
      if (remembered !== undefined) {
        // 6.4: handled within the window: the same answer again, the handler does not run.
        a.push(remembered.kind === 'ack' ? { kind: 'ack', id: id as number } : { kind: 'error', codes: [remembered.code], channel: remembered.channel, id });
        return;
      }
      const fails = !relay || publishFails(channel, f.data, facts.limits.maxFrameBytes);
      if (fails) {
        a.push({ kind: 'error', codes: [Code.Remote], channel, ...(id === undefined ? {} : { id }) });
        if (id !== undefined) m.handled.set(id, { kind: 'error', code: Code.Remote, channel });
        return;
      }
      if (m.joined.has(channel)) p.relays.push({ channel, data: f.data });
      if (id !== undefined) {
        a.push({ kind: 'ack', id });
        m.handled.set(id, { kind: 'ack' });
      }
      return;
    }
    case 'request': {
      const rid = f.id as number;
      if (channel === TICKET) {
        a.push({ kind: 'response', id: rid, ticket: true });
        return;
      }
      if (channel.startsWith(RESERVED)) {
        a.push({ kind: 'request-error', id: rid, codes: [Code.Forbidden] });
        return;
      }
      // 6.4: an id answered before gets the remembered answer again. 14.2 orders authorize first for
      // messages only; for requests the id names the request (ids are unique in a session), so the
      // remembered answer wins whatever channel a re-sent duplicate names.
      const known = m.replies.get(rid);
      if (known !== undefined) {
        a.push(known.kind === 'response' ? { kind: 'response', id: rid, data: known.data } : { kind: 'request-error', id: rid, codes: [known.code] });
        return;
      }
      if (channel.startsWith('deny-')) {
        a.push({ kind: 'request-error', id: rid, codes: [Code.Forbidden] });
        return;
      }
      if (channel === 'echo') {
        if (encodable(f.data)) {
          a.push({ kind: 'response', id: rid, data: f.data });
          m.replies.set(rid, { kind: 'response', data: f.data });
        } else {
          a.push({ kind: 'request-error', id: rid, codes: [Code.Remote] });
          m.replies.set(rid, { kind: 'request-error', code: Code.Remote });
        }
        return;
      }
      if (channel === 'fail') {
        a.push({ kind: 'request-error', id: rid, codes: [Code.Remote] });
        m.replies.set(rid, { kind: 'request-error', code: Code.Remote });
        return;
      }
      a.push({ kind: 'request-error', id: rid, codes: [Code.NoHandler] });
      return;
    }
    default:
      // A frame of the server's direction (5: "the codec checks shape, not direction").
      if (!CLIENT_FRAMES.has(f.type)) a.push({ kind: 'error', codes: [Code.UnexpectedFrame] });
  }
}

/** Predicts what the server answers to `messages`, sent in order on a connection in state `m` (which it updates). */
export function predict(m: ConnectionModel, messages: readonly WsMessage[], facts: ServerFacts): Prediction {
  const p: Prediction = { decodeErrors: [], answers: [], relays: [], close: undefined };
  for (const message of messages) predictMessage(m, message, facts, p);
  return p;
}

/** What the server sent during a case: its messages, decoded by the spec, and its close. */
export interface Observed {
  readonly frames: readonly SpecFrame[];
  /** Messages the spec refuses (the server sent something malformed). */
  readonly malformed: readonly string[];
  readonly close: number | undefined;
}

const same = (a: unknown, b: unknown): boolean => {
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.from(a).equals(Buffer.from(b));
  return JSON.stringify(a) === JSON.stringify(b);
};

/** Compares what the server sent with the prediction; returns what differs (empty: as PROTOCOL.md says). */
export function judge(m: ConnectionModel, p: Prediction, o: Observed): string[] {
  const problems: string[] = [...o.malformed.map((t) => `the server sent a message the spec refuses: ${t.slice(0, 200)}`)];
  const frames = o.frames.filter((f) => f.type !== 'receipt' && f.type !== 'ping');
  // Codec errors: a multiset.
  const codecErrors = frames.filter((f) => f.type === 'error' && CODEC_CODES.has(f.code as string));
  const unmatched = [...p.decodeErrors];
  for (const e of codecErrors) {
    const i = unmatched.findIndex((x) => x.codes.includes(e.code as string) && x.channel === e.channel && e.id === undefined);
    if (i === -1) problems.push(`unexpected codec error ${JSON.stringify(e)}`);
    else unmatched.splice(i, 1);
  }
  // 1007 and 1009 are ws's own closes, sent as soon as it reads the bad frame: answers the server queued
  // for the messages before it in the same turn are not flushed first (the server's own closes flush them:
  // 14.4). PROTOCOL.md says nothing either way; what did arrive must still be right.
  const truncatedByWs = o.close !== undefined && (o.close === 1007 || o.close === 1009) && p.close?.includes(o.close) === true;
  if (!truncatedByWs) for (const e of unmatched) problems.push(`missing codec error ${JSON.stringify(e)}`);
  // Publications and gaps: per channel, after its subscribed frame.
  const rest = frames.filter((f) => !(f.type === 'error' && CODEC_CODES.has(f.code as string)));
  const relays = [...p.relays];
  const answers = [...p.answers];
  const pendingGap = new Map<string, SpecFrame>();
  /** The subscribe (with since) whose replay is being read, per channel. */
  const replaying = new Map<string, { since: number; to: number }>();
  for (const f of rest) {
    if (f.type === 'publication') {
      const channel = f.channel as string;
      const r = relays.findIndex((x) => x.channel === channel && same(x.data, f.data));
      const seq = f.seq as number | undefined;
      if (!m.everJoined.has(channel)) problems.push(`publication on ${channel}, which this connection never joined`);
      else if (seq !== undefined) {
        const last = m.last.get(channel);
        if (last !== undefined && seq !== last + 1) problems.push(`publication ${seq} on ${channel} after ${last}: not the next one`);
        m.last.set(channel, seq);
      }
      if (r !== -1) relays.splice(r, 1);
      continue;
    }
    if (f.type === 'gap') {
      const channel = f.channel as string;
      if (f.reason === 'too-big') {
        // A publication larger than the hello's maxFrameBytes: skipped by its seq (5.16).
        const r = relays.findIndex((x) => x.channel === channel);
        if (m.peerMaxFrameBytes === undefined) problems.push(`gap too-big on ${channel} though the hello asked for no smaller frames`);
        if (r !== -1) relays.splice(r, 1);
        m.last.set(channel, f.seq as number);
        continue;
      }
      pendingGap.set(channel, f);
      continue;
    }
    const e = answers.shift();
    const got = describe(f);
    if (e === undefined) {
      problems.push(`unexpected ${got}`);
      continue;
    }
    const problem = mismatch(e, f);
    if (problem !== undefined) {
      problems.push(`expected ${JSON.stringify(e)}, got ${got}: ${problem}`);
      continue;
    }
    if (e.kind === 'subscribed') {
      const channel = e.channel;
      const gap = pendingGap.get(channel);
      pendingGap.delete(channel);
      const seq = f.seq as number;
      if (gap !== undefined) {
        if (e.since === undefined || !e.fresh) problems.push(`gap before subscribed ${channel}, which asked for no replay`);
        else if (gap.seq !== seq || gap.since !== e.since || (gap.reason !== 'history' && gap.reason !== 'epoch')) problems.push(`gap ${JSON.stringify(gap)} does not fit subscribed seq ${seq}, since ${e.since}`);
        m.last.set(channel, seq);
      } else if (e.fresh && e.since !== undefined && e.since < seq) {
        m.last.set(channel, e.since); // the replay (since, seq] follows, in order
        replaying.set(channel, { since: e.since, to: seq });
      } else if (e.fresh) {
        m.last.set(channel, seq); // live from here
      }
    }
  }
  for (const [channel, gap] of pendingGap) problems.push(`gap without its subscribed on ${channel}: ${JSON.stringify(gap)}`);
  for (const [channel, r] of replaying) {
    const last = m.last.get(channel) ?? 0;
    if (last < r.to) problems.push(`replay of ${channel} after ${r.since} stopped at ${last}, subscribed said ${r.to}`);
  }
  const closes = p.close;
  if (!truncatedByWs) {
    for (const e of answers) problems.push(`missing ${JSON.stringify(e)}`);
    for (const r of relays) problems.push(`missing the relay's publication on ${r.channel}`);
  }
  if (closes === undefined && o.close !== undefined) problems.push(`closed with ${o.close}, expected to stay open`);
  if (closes !== undefined && (o.close === undefined || !closes.includes(o.close))) problems.push(`expected close ${closes.join('|')}, got ${o.close ?? 'none'}`);
  return problems;
}

function describe(f: SpecFrame): string {
  return JSON.stringify(f, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.byteLength} bytes>` : typeof v === 'string' && v.length > 100 ? `${v.slice(0, 100)}…` : v));
}

/** Why frame `f` is not the expected answer `e` (undefined: it is). */
function mismatch(e: Expected, f: SpecFrame): string | undefined {
  if (f.type !== e.kind) return 'another frame';
  switch (e.kind) {
    case 'welcome': {
      if (f.version !== 1 || typeof f.session !== 'string' || typeof f.heartbeat !== 'number') return 'welcome fields';
      if (e.named ? f.resumed !== false : f.resumed !== undefined) return `resumed ${String(f.resumed)}`;
      if (f.received !== 0 || typeof f.limits !== 'object') return 'welcome received / limits';
      return undefined;
    }
    case 'error':
      if (!e.codes.includes(f.code as string)) return `code ${String(f.code)}`;
      if (f.channel !== e.channel) return `channel ${String(f.channel)}`;
      if (f.id !== e.id) return `id ${String(f.id)}`;
      return undefined;
    case 'pong':
      return f.t === e.t ? undefined : `t ${String(f.t)}`;
    case 'subscribed':
      return f.channel !== e.channel ? 'channel' : typeof f.epoch !== 'string' || typeof f.seq !== 'number' ? 'no epoch or seq' : undefined;
    case 'unsubscribed':
      return f.channel !== e.channel ? 'channel' : !e.codes.includes(f.code as string) ? `code ${String(f.code)}` : undefined;
    case 'ack':
      return f.id === e.id ? undefined : 'id';
    case 'response':
      if (f.id !== e.id) return 'id';
      if (e.ticket === true) {
        const d = f.data as { ticket?: unknown; expiresIn?: unknown } | null;
        return typeof d?.ticket === 'string' && typeof d.expiresIn === 'number' ? undefined : 'not a ticket';
      }
      return same(e.data, f.data) ? undefined : 'data';
    case 'request-error':
      return f.id !== e.id ? 'id' : !e.codes.includes(f.code as string) ? `code ${String(f.code)}` : undefined;
  }
}
