/**
 * The client half of the fuzz's oracle: what PROTOCOL.md (5, 8.1, 9) says a
 * client does with the frames of one case, on its two joined channels: the
 * values each channel gets, how it ends, the errors reported on
 * `conn.errors$`, the pings answered. `client-fuzz.ts` runs the case against
 * a real client and compares.
 */
import type { WsMessage } from './server-model.js';
import { CLIENT_FRAMES, Code, specDecode, V2_FRAMES, type SpecFrame, type SpecLimits } from './spec.js';

/** The client's decode limit in the fuzz (small, so frames over it are cheap to send). */
export const CLIENT_MAX_FRAME = 64 * 1024;
const CLIENT_LIMITS: SpecLimits = { maxFrameBytes: CLIENT_MAX_FRAME, maxBatch: 1024 };
/** The epoch of every channel the hostile server answers. */
export const EPOCH = 'E0E0E0E0E0E0';

/** What the hostile server does in a case. */
export interface ClientCase {
  /** Sent before the welcome (a fresh connection), or after the case's channels are joined. */
  readonly early: boolean;
  readonly messages: readonly WsMessage[];
  /** How the case ends the socket: a close code, 1006 (terminated), or not at all. */
  readonly close: number | undefined;
}

// ---- the model --------------------------------------------------------------------------

interface ChannelModel {
  epoch: string | undefined;
  seq: number | undefined;
  ended: string | undefined;
  readonly values: unknown[];
}

/** What the client must show for a case. */
export interface ClientExpectation {
  readonly values: Map<string, unknown[]>;
  /** Per channel: how it ended (`complete` or the code), when it did. */
  readonly ended: Map<string, string>;
  /** Error codes on `conn.errors$`: each entry the codes allowed for one report; `optional` ones may be missing. */
  readonly errors: { readonly codes: readonly string[]; readonly optional: boolean }[];
  /** Ping `t`s the server must get a pong for (`null`: a ping without `t`). */
  readonly pongs: (number | null)[];
  /** `subscribed` frames for channels not joined: the client answers each with `unsubscribe` (5.6). */
  readonly unwanted: string[];
}

/** Section 5 and 8.1 from the client's side, for the frames of one case on joined channels `a`, `b`. */
export function expectClient(c: ClientCase, a: string, b: string): ClientExpectation {
  // Joined and confirmed (subscribed at EPOCH, 0); early: joined, not confirmed yet (no position).
  const ch = new Map<string, ChannelModel>([a, b].map((n) => [n, { epoch: c.early ? undefined : EPOCH, seq: c.early ? undefined : 0, ended: undefined, values: [] }]));
  const x: ClientExpectation = { values: new Map(), ended: new Map(), errors: [], pongs: [], unwanted: [] };
  let welcomed = !c.early;
  const route = (f: SpecFrame): void => {
    const m = typeof f.channel === 'string' ? ch.get(f.channel) : undefined;
    const live = m !== undefined && m.ended === undefined ? m : undefined;
    if (!welcomed) {
      // 5.3: before the welcome, only ping, pong and error are expected; the rest is dropped and reported.
      if (f.type === 'welcome') welcomed = true;
      else if (f.type === 'ping') x.pongs.push(typeof f.t === 'number' ? f.t : null);
      else if (f.type === 'error') x.errors.push({ codes: [f.code as string], optional: false });
      else if (f.type !== 'pong') x.errors.push({ codes: [Code.UnexpectedFrame], optional: false });
      return;
    }
    switch (f.type) {
      case 'publication': {
        if (live === undefined) return;
        const seq = f.seq as number | undefined;
        if (seq !== undefined && live.seq !== undefined && seq <= live.seq) return; // a duplicate: dropped
        if (seq !== undefined) live.seq = seq;
        live.values.push(f.data);
        return;
      }
      case 'gap':
        if (f.reason === 'too-big') x.errors.push({ codes: [Code.FrameTooBig], optional: true });
        if (live === undefined) return;
        live.epoch = f.epoch as string;
        live.seq = f.seq as number;
        return;
      case 'subscribed':
        if (m === undefined) {
          if (f.channel !== a && f.channel !== b) x.unwanted.push(f.channel as string);
          return;
        }
        if (live === undefined) return;
        // 5.6: an epoch other than the client's is a gap; the position moves to the frame's.
        if (live.seq === undefined || live.epoch === undefined || (f.epoch !== undefined && f.epoch !== live.epoch)) {
          live.epoch = f.epoch as string | undefined;
          live.seq = f.seq as number | undefined;
        }
        return;
      case 'unsubscribed':
        if (live !== undefined) live.ended = typeof f.code === 'string' ? f.code : 'complete';
        return;
      case 'error':
        x.errors.push({ codes: [f.code as string], optional: false });
        return;
      case 'ping':
        x.pongs.push(typeof f.t === 'number' ? f.t : null);
        return;
      case 'ack':
      case 'response':
      case 'request-error':
      case 'receipt':
      case 'pong':
      case 'refreshed':
        return; // unknown ids are ignored; a receipt or a refreshed changes nothing visible here
      default:
        // A frame of the client's direction, a second welcome, or one of v2's (this server selects rxmux.v1).
        if (CLIENT_FRAMES.has(f.type) || f.type === 'welcome' || V2_FRAMES.has(f.type)) x.errors.push({ codes: [Code.UnexpectedFrame], optional: false });
    }
  };
  for (const message of c.messages) {
    const data = message.kind === 'binary' ? message.bytes : message.kind === 'text' ? message.text : Buffer.from(message.bytes).toString('utf8');
    const envelopes = specDecode(data, CLIENT_LIMITS);
    for (const e of envelopes) {
      if (!('error' in e)) continue;
      x.errors.push({ codes: e.error.codes, optional: false });
      // 8.1: a too-big publication is skipped by its seq.
      if (e.error.codes.includes(Code.FrameTooBig) && typeof data === 'string') {
        const peek = /^\[1,"([^"]+)",.*,(\d+)\]$/s.exec(data);
        const m = peek === null ? undefined : ch.get(peek[1] as string);
        const seq = Number(peek?.[2]);
        if (m !== undefined && m.ended === undefined && (m.seq === undefined || seq > m.seq)) m.seq = seq;
      }
    }
    for (const e of envelopes) if ('frame' in e) route(e.frame);
  }
  if (c.early) {
    // Then the server's own welcome (a second one if the junk held one), and its answers to the subscribes.
    route({ type: 'welcome', version: 1, session: 's', heartbeat: 0 });
    for (const name of [a, b]) route({ type: 'subscribed', channel: name, epoch: EPOCH, seq: 0 });
  }
  for (const [name, m] of ch) {
    x.values.set(name, m.values);
    if (m.ended !== undefined) x.ended.set(name, m.ended);
  }
  return x;
}
