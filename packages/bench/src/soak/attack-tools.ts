/**
 * How the attacks of `attacks.ts` speak to a server: raw WebSocket sessions
 * and their frames, paced streams of messages sized to the announced limits,
 * HTTP requests that read or never read, and the tally. Only the server's
 * address is known here (no server code), and every loop is bounded in time.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, type RawData } from 'ws';
import { bytesPerToken, delayFor, fullBucket, messageCost, takeTokens, type BucketRate, type BucketState } from '@rxmux/core/protocol';
import { RawSocket, RefusedUpgrade } from './raw-socket.js';
import type { AttackTally } from './types.js';


/** Where the attacker aims, and who it is. */
export interface AttackTarget {
  readonly port: number;
  /** The attacker's source address (every socket leaves from it). */
  readonly localAddress: string;
  /** The attacker's own valid token when the server authenticates: an attacker is a user of the app like anyone. */
  readonly token: string | undefined;
}

/** `'long'`: the issue's sizes (the soak's attack mode); `'short'`: a few seconds' worth for `npm test`. */
export type AttackSize = 'long' | 'short';

/** History the app holds before an attack (the orchestrator has the server publish it). */
export interface Preload {
  readonly channels: readonly string[];
  readonly count: number;
  readonly bytes: number;
}

const MiB = 1024 * 1024;
/** Room left for the envelope and the largest seq when a message is republished (the relay). */
const ENVELOPE_ROOM = 256;

export const add = (tally: AttackTally, key: string, n = 1): void => {
  tally[key] = (tally[key] ?? 0) + n;
};
export const max = (tally: AttackTally, key: string, n: number): void => {
  if (n > (tally[key] ?? 0)) tally[key] = n;
};

// ---- building blocks --------------------------------------------------------------

/** A hello with the token in its last field (`[2,1,null,null,null,token]`), or a bare one. */
export const hello = (token: string | undefined): string => (token === undefined ? '[2,1]' : JSON.stringify([2, 1, null, null, null, token]));

/** Whether a text frame holds an envelope of `type` (alone or in a batch). */
export function holds(text: string, type: number): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return false;
    const envelopes: unknown[] = Array.isArray(parsed[0]) ? parsed : [parsed];
    return envelopes.some((e) => Array.isArray(e) && e[0] === type);
  } catch {
    return false;
  }
}

/** The codes of every `error` (`[8,code,…]`) and `unsubscribed` (`[7,channel,code,…]`) envelope in a text frame. */
function errorCodes(text: string): string[] {
  if (!text.includes('RXMUX_ERR_')) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    const envelopes: unknown[] = Array.isArray(parsed[0]) ? parsed : [parsed];
    const codes: string[] = [];
    for (const e of envelopes) {
      if (!Array.isArray(e)) continue;
      const code: unknown = e[0] === 8 ? e[1] : e[0] === 7 ? e[2] : undefined;
      if (typeof code === 'string') codes.push(code);
    }
    return codes;
  } catch {
    return [];
  }
}

/** The bucket a welcome announces (PROTOCOL.md 5.3, 14.3). */
interface Announced {
  readonly rate: number;
  readonly burst: number;
  readonly maxFrameBytes: number;
}

/** A welcomed connection of the attacker and the limits its welcome announced. */
interface Session {
  readonly ws: WebSocket;
  readonly limits: Announced | undefined;
}

/** The `limits` of the welcome in a text frame, if it holds one. */
function welcomeLimits(text: string): Announced | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return undefined;
    const envelopes: unknown[] = Array.isArray(parsed[0]) ? parsed : [parsed];
    const welcome = envelopes.find((e): e is unknown[] => Array.isArray(e) && e[0] === 3);
    const limits = welcome?.[7] as Partial<Announced> | undefined;
    return typeof limits?.rate === 'number' && typeof limits.burst === 'number' && typeof limits.maxFrameBytes === 'number'
      ? { rate: limits.rate, burst: limits.burst, maxFrameBytes: limits.maxFrameBytes }
      : undefined;
  } catch {
    return undefined;
  }
}

/** An authenticated `ws` connection of the attacker that has been welcomed; `undefined` when it was refused (tallied). */
export async function session(target: AttackTarget, tally: AttackTally): Promise<Session | undefined> {
  const ws = new WebSocket(`ws://127.0.0.1:${target.port}/rt`, ['rxmux.v1'], { localAddress: target.localAddress, perMessageDeflate: false, maxPayload: 256 * MiB });
  ws.on('error', () => undefined);
  return new Promise((resolve) => {
    let welcomed = false;
    const timer = setTimeout(() => {
      add(tally, 'session-timeouts');
      ws.terminate();
      resolve(undefined);
    }, 10_000);
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      clearTimeout(timer);
      add(tally, `session-refused-http-${res.statusCode ?? 0}`);
      ws.terminate();
      resolve(undefined);
    });
    ws.on('open', () => ws.send(hello(target.token)));
    ws.on('message', (data: RawData, binary: boolean) => {
      if (binary) return;
      const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)).toString('utf8');
      for (const code of errorCodes(text)) add(tally, `error-${code}`);
      if (!welcomed && holds(text, 3)) {
        welcomed = true;
        clearTimeout(timer);
        add(tally, 'sessions');
        resolve({ ws, limits: welcomeLimits(text) });
      }
    });
    ws.on('close', (code: number) => {
      add(tally, `close-${code}`);
      if (!welcomed) {
        clearTimeout(timer);
        resolve(undefined);
      }
    });
  });
}

/**
 * Sends `frame()` on sessions of the attacker until `until`, reconnecting
 * when the server closes one: at most `perSecond` frames a second, and never
 * more than the bucket its welcome announced allows, with the reference
 * client's margin (14.3's cost: one token per envelope, or per
 * `bytesPerToken` of the frame) — the attacker that stays just under the
 * rate limit.
 */
export async function stream(target: AttackTarget, until: number, tally: AttackTally, perSecond: number, frame: (i: number, room: number) => string): Promise<void> {
  let s: Session | undefined;
  let bucket: BucketState | undefined;
  let rate: BucketRate = { rate: perSecond, burst: perSecond };
  let sent = 0;
  const started = Date.now();
  while (Date.now() < until && sent < perSecond * 3600) {
    if (s?.ws.readyState !== WebSocket.OPEN) {
      s = await session(target, tally);
      if (s === undefined) {
        await sleep(200); // refused: try again later, as an attacker would
        continue;
      }
      const announced = s.limits;
      // The reference client's margin (5.3): 90 % of the rate, 75 % of the burst, for frames the server reads closer together than they were sent.
      rate = announced === undefined ? { rate: perSecond, burst: perSecond } : { rate: announced.rate * 0.9, burst: announced.burst * 0.75 };
      bucket = fullBucket(rate, Date.now());
      bucket.tokens -= 1; // the hello's token
    }
    // As large as the server takes (its announced maxFrameBytes), less room for the envelope and a relay's seq.
    const text = frame(sent, (s.limits?.maxFrameBytes ?? MiB) - ENVELOPE_ROOM);
    const cost = s.limits === undefined ? 1 : messageCost(1, text.length, bytesPerToken(s.limits));
    const wait = Math.max(started + (sent * 1000) / perSecond - Date.now(), bucket === undefined ? 0 : delayFor(bucket, cost, Date.now(), rate));
    if (!Number.isFinite(wait)) {
      add(tally, 'frames-over-the-burst');
      return;
    }
    if (wait > 0) {
      await sleep(Math.min(100, wait));
      continue;
    }
    // Never buffer more than a few frames on our side: what the server does not take, we do not send.
    if (s.ws.bufferedAmount > 8 * MiB) {
      await sleep(5);
      continue;
    }
    if (bucket !== undefined) takeTokens(bucket, cost, Date.now(), rate);
    s.ws.send(text);
    sent++;
    add(tally, 'frames');
    add(tally, 'bytes', text.length);
  }
  s?.ws.terminate();
}

/** `[0,"<channel>",{"pad":"xxx…"}]` of about `bytes` bytes: a message whose publication still fits the frame limit. */
export function bigMessage(channel: string, bytes: number): string {
  return `[0,${JSON.stringify(channel)},{"pad":"${'x'.repeat(Math.max(0, bytes - channel.length - 20))}"}]`;
}

/** `build(room)`, built once per room (the frames of an attack are the same every time). */
export function memo(build: (room: number) => string): (room: number) => string {
  const built = new Map<number, string>();
  return (room) => {
    let text = built.get(room);
    if (text === undefined) built.set(room, (text = build(room)));
    return text;
  };
}

/** `[[],[],…]` of about `bytes` bytes: cheap to send, dear to parse and to hold (about 13 bytes of heap per byte). */
export const wideArrays = (bytes: number): string => `[${'[],'.repeat(Math.max(1, Math.floor(bytes / 3) - 1))}[]]`;

/** `[[[…]]]` of about `bytes` bytes. */
export const deepArrays = (bytes: number): string => `${'['.repeat(bytes >> 1)}${']'.repeat(bytes >> 1)}`;

/**
 * The attacker's credentials for SSE and polls: its own token in an
 * `Authorization` header (a script is no browser: it can set one), so its
 * requests pass the door and reach the replay.
 */
export const bearer = (target: AttackTarget): Readonly<Record<string, string>> => (target.token === undefined ? {} : { Authorization: `Bearer ${target.token}` });

/** The result of one HTTP request. */
interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly bytes: number;
}

/** A GET from the attacker's address; reads the body (up to `readMs` for a stream) and counts its bytes. */
export function get(target: AttackTarget, path: string, headers: Readonly<Record<string, string>>, readMs: number): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port: target.port, path, headers, localAddress: target.localAddress, agent: false });
    let settled = false;
    const done = (answer: Answer | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), readMs + 10_000);
    req.on('error', () => done(undefined));
    req.on('response', (res) => {
      let bytes = 0;
      const finish = (): void => done({ status: res.statusCode ?? 0, headers: res.headers, bytes });
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', finish);
      res.on('error', finish);
      res.on('close', finish);
      setTimeout(finish, readMs);
    });
    req.end();
  });
}

/** A stale-cursor request for every preloaded channel: each replays its whole history (poll: the cursor parameter; SSE: Last-Event-ID). */
export function staleRequest(kind: 'sse' | 'poll', p: Preload): { readonly path: string; readonly headers: Readonly<Record<string, string>> } {
  const channels = encodeURIComponent(p.channels.join(','));
  const cursor = p.channels.map((c) => `${encodeURIComponent(c)}=0`).join(',');
  return kind === 'poll'
    ? { path: `/rt/poll?channels=${channels}&cursor=${encodeURIComponent(cursor)}`, headers: {} }
    : { path: `/rt/sse?channels=${channels}`, headers: { 'Last-Event-ID': cursor } };
}

/** A request that is written and never read: the answer piles up in the server. */
export function unreadRequest(target: AttackTarget, path: string, headers: Readonly<Record<string, string>>): Socket {
  const socket = tcpConnect({ port: target.port, host: '127.0.0.1', localAddress: target.localAddress });
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  socket.pause();
  return socket;
}

/** Opens a raw socket that says hello (authenticated), subscribes to `channel`, and then never reads again. */
export async function nonReader(target: AttackTarget, channel: string, tally: AttackTally): Promise<RawSocket | undefined> {
  let socket: RawSocket;
  try {
    socket = await RawSocket.open({ port: target.port, localAddress: target.localAddress });
  } catch (error) {
    add(tally, error instanceof RefusedUpgrade ? `upgrade-refused-${error.status}` : 'connect-failed');
    return undefined;
  }
  socket.text(hello(target.token));
  const welcome = await socket.nextText(10_000);
  if (welcome === undefined || !holds(welcome, 3)) {
    add(tally, `refused-close-${socket.closed?.code ?? 'none'}`);
    socket.destroy();
    return undefined;
  }
  socket.text(JSON.stringify([4, channel]));
  for (let i = 0; i < 4; i++) {
    const text = await socket.nextText(10_000);
    if (text === undefined || holds(text, 6) || holds(text, 7)) break;
  }
  socket.pause();
  return socket;
}

/** Runs `count` workers of `work` until `until`, each looping; a worker whose try failed (returned false) waits 50 ms first. */
export async function workers(count: number, until: number, work: (worker: number) => Promise<boolean>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, w) => {
      while (Date.now() < until) if (!(await work(w))) await sleep(50);
    }),
  );
}

