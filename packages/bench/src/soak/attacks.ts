/**
 * The hostile clients of issue 14's "Why" list, one function each. An attack
 * knows only the server's address (no server code): it opens sockets and
 * HTTP requests from the attacker's loopback address, for a bounded time and
 * a bounded count, and tallies what it saw (close codes, HTTP statuses, bytes
 * it got). The soak's attack mode runs each in a process of its own against a
 * server with legitimate clients on it; the short tests in `test/hostile/`
 * run the same functions, smaller, in process.
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

/** One attack. */
export interface Attack {
  readonly name: string;
  /** What it does, one line (for `--list` and the report). */
  readonly what: string;
  /** History the app must hold first. */
  preload?(size: AttackSize): Preload;
  /** Runs until `until` (`Date.now()` ms); everything it opened is closed when it returns. */
  run(target: AttackTarget, until: number, size: AttackSize, tally: AttackTally): Promise<void>;
}

const MiB = 1024 * 1024;
/** Room left for the envelope and the largest seq when a message is republished (the relay). */
const ENVELOPE_ROOM = 256;

const add = (tally: AttackTally, key: string, n = 1): void => {
  tally[key] = (tally[key] ?? 0) + n;
};
const max = (tally: AttackTally, key: string, n: number): void => {
  if (n > (tally[key] ?? 0)) tally[key] = n;
};

// ---- building blocks --------------------------------------------------------------

/** A hello with the token in its last field (`[2,1,null,null,null,token]`), or a bare one. */
const hello = (token: string | undefined): string => (token === undefined ? '[2,1]' : JSON.stringify([2, 1, null, null, null, token]));

/** Whether a text frame holds an envelope of `type` (alone or in a batch). */
function holds(text: string, type: number): boolean {
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
async function session(target: AttackTarget, tally: AttackTally): Promise<Session | undefined> {
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
async function stream(target: AttackTarget, until: number, tally: AttackTally, perSecond: number, frame: (i: number, room: number) => string): Promise<void> {
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
function bigMessage(channel: string, bytes: number): string {
  return `[0,${JSON.stringify(channel)},{"pad":"${'x'.repeat(Math.max(0, bytes - channel.length - 20))}"}]`;
}

/** `build(room)`, built once per room (the frames of an attack are the same every time). */
function memo(build: (room: number) => string): (room: number) => string {
  const built = new Map<number, string>();
  return (room) => {
    let text = built.get(room);
    if (text === undefined) built.set(room, (text = build(room)));
    return text;
  };
}

/** `[[],[],…]` of about `bytes` bytes: cheap to send, dear to parse and to hold (about 13 bytes of heap per byte). */
const wideArrays = (bytes: number): string => `[${'[],'.repeat(Math.max(1, Math.floor(bytes / 3) - 1))}[]]`;

/** `[[[…]]]` of about `bytes` bytes. */
const deepArrays = (bytes: number): string => `${'['.repeat(bytes >> 1)}${']'.repeat(bytes >> 1)}`;

/**
 * The attacker's credentials for SSE and polls: its own token in an
 * `Authorization` header (a script is no browser: it can set one), so its
 * requests pass the door and reach the replay.
 */
const bearer = (target: AttackTarget): Readonly<Record<string, string>> => (target.token === undefined ? {} : { Authorization: `Bearer ${target.token}` });

/** The result of one HTTP request. */
interface Answer {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly bytes: number;
}

/** A GET from the attacker's address; reads the body (up to `readMs` for a stream) and counts its bytes. */
function get(target: AttackTarget, path: string, headers: Readonly<Record<string, string>>, readMs: number): Promise<Answer | undefined> {
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
function staleRequest(kind: 'sse' | 'poll', p: Preload): { readonly path: string; readonly headers: Readonly<Record<string, string>> } {
  const channels = encodeURIComponent(p.channels.join(','));
  const cursor = p.channels.map((c) => `${encodeURIComponent(c)}=0`).join(',');
  return kind === 'poll'
    ? { path: `/rt/poll?channels=${channels}&cursor=${encodeURIComponent(cursor)}`, headers: {} }
    : { path: `/rt/sse?channels=${channels}`, headers: { 'Last-Event-ID': cursor } };
}

/** A request that is written and never read: the answer piles up in the server. */
function unreadRequest(target: AttackTarget, path: string, headers: Readonly<Record<string, string>>): Socket {
  const socket = tcpConnect({ port: target.port, host: '127.0.0.1', localAddress: target.localAddress });
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  socket.pause();
  return socket;
}

/** Opens a raw socket that says hello (authenticated), subscribes to `channel`, and then never reads again. */
async function nonReader(target: AttackTarget, channel: string, tally: AttackTally): Promise<RawSocket | undefined> {
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
async function workers(count: number, until: number, work: (worker: number) => Promise<boolean>): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async (_, w) => {
      while (Date.now() < until) if (!(await work(w))) await sleep(50);
    }),
  );
}

// ---- the attacks -------------------------------------------------------------------

const relayFlood: Attack = {
  name: 'relay-flood',
  what: 'messages of maxFrameBytes (64 KiB by default) into relayed channels as fast as the rate limit lets them (the README relay republishes them: history of big messages)',
  async run(target, until, size, tally) {
    const channels = size === 'long' ? 200 : 8;
    await stream(target, until, tally, size === 'long' ? 95 : 40, (i, room) => bigMessage(`relay-flood-${i % channels}`, room));
  },
};

const nestedFrames: Attack = {
  name: 'nested-frames',
  what: 'frames of maxFrameBytes (64 KiB by default) of nested arrays ([[],[],…] and [[[…]]]) into a relayed channel, 10 frames/s',
  async run(target, until, size, tally) {
    const wide = memo((room) => `[0,"relay-nested",${wideArrays(room)}]`);
    const deep = memo((room) => `[0,"relay-nested",${deepArrays(room)}]`);
    await stream(target, until, tally, size === 'long' ? 10 : 5, (i, room) => (i % 2 === 0 ? wide(room) : deep(room)));
  },
};

const underRate: Attack = {
  name: 'under-rate',
  what: 'frames just under the rate limit (paced like the reference client), each maxFrameBytes (64 KiB by default) of [[],…] that is dear to parse, to a channel without handler',
  async run(target, until, size, tally) {
    const frame = memo((room) => `[0,"cpu-burn",${wideArrays(room)}]`);
    await stream(target, until, tally, size === 'long' ? 95 : 40, (_, room) => frame(room));
  },
};

function historyPreload(size: AttackSize): Preload {
  // long: 20 channels × 100 publications of 50 KiB ≈ 100 MiB of history, the issue's "102 MiB answer"
  return size === 'long'
    ? { channels: Array.from({ length: 20 }, (_, i) => `history-${i}`), count: 100, bytes: 50 * 1024 }
    : { channels: Array.from({ length: 4 }, (_, i) => `history-${i}`), count: 100, bytes: 8 * 1024 };
}

/** Replays that are read: 4 at a time, each poll read to its end, each SSE stream for a second. */
function staleReplays(kind: 'sse' | 'poll', what: string): Attack {
  return {
    name: `stale-${kind}`,
    what,
    preload: historyPreload,
    async run(target, until, size, tally) {
      const { path, headers } = staleRequest(kind, historyPreload(size));
      await workers(4, until, async () => {
        const answer = await get(target, path, { ...headers, ...bearer(target) }, kind === 'poll' ? 30_000 : 1_000);
        add(tally, `${kind}-${answer?.status ?? 'failed'}`);
        if (answer === undefined) return false;
        add(tally, 'bytes', answer.bytes);
        max(tally, kind === 'poll' ? 'largest-answer' : 'largest-stream-second', answer.bytes);
        return true;
      });
    },
  };
}

const stalePoll = staleReplays('poll', 'long-polls with a stale cursor on channels with a full history (each answer replays all of it), 4 at a time');
const staleSse = staleReplays('sse', 'SSE streams with a stale Last-Event-ID on channels with a full history, reconnecting every second, 4 at a time');

const unreadReplays: Attack = {
  name: 'unread-replays',
  what: '16 stale-cursor polls and 16 SSE streams that never read their (huge) answers, re-opened when the server drops one',
  preload: historyPreload,
  async run(target, until, size, tally) {
    const n = size === 'long' ? 16 : 4;
    const paths = [...Array.from({ length: n }, () => staleRequest('poll', historyPreload(size))), ...Array.from({ length: n }, () => staleRequest('sse', historyPreload(size)))];
    const open = paths.map((p) => unreadRequest(target, p.path, { ...p.headers, ...bearer(target) }));
    add(tally, 'requests', open.length);
    let reopened = 0;
    while (Date.now() < until && reopened < 10_000) {
      await sleep(250);
      open.forEach((socket, i) => {
        if (!socket.destroyed && !socket.readableEnded) return;
        add(tally, 'dropped-by-server');
        const p = paths[i];
        if (p === undefined) return;
        open[i] = unreadRequest(target, p.path, { ...p.headers, ...bearer(target) });
        reopened++;
        add(tally, 'requests');
      });
    }
    for (const socket of open) socket.destroy();
  },
};

const slowSubscribers: Attack = {
  name: 'slow-subscribers',
  what: '300 subscribers that never read, fed messages of maxFrameBytes (64 KiB by default) through the relay (10/s)',
  async run(target, until, size, tally) {
    const n = size === 'long' ? 300 : 20;
    const readers: RawSocket[] = [];
    for (let i = 0; i < n && Date.now() < until; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => nonReader(target, 'relay-slow', tally)));
      for (const s of batch) if (s !== undefined) readers.push(s);
    }
    // The principal's cap (maxConnectionsPerPrincipal) holds the readers to a few dozen: one of them makes room for the publisher.
    if (readers.length >= n || Date.now() >= until) add(tally, 'non-readers', readers.length);
    else {
      readers.pop()?.destroy();
      add(tally, 'non-readers', readers.length);
    }
    await stream(target, until, tally, 10, (_, room) => bigMessage('relay-slow', room));
    add(tally, 'dropped-by-server', readers.filter((s) => s.closed !== undefined).length);
    for (const s of readers) s.destroy();
  },
};

const EVIL = 'https://evil.example';

const crossOrigin: Attack = {
  name: 'cross-origin',
  what: "an evil site's page: WebSocket, SSE and poll with Origin https://evil.example and the victim's cookie",
  async run(target, until, size, tally) {
    const headers = { Origin: EVIL, Cookie: 'rxmux_token=legit-victim' };
    const rounds = size === 'long' ? 2_000 : 20;
    for (let i = 0; i < rounds && Date.now() < until; i++) {
      // WebSocket: no token in the hello (the evil page has none); the browser adds the cookie.
      try {
        const socket = await RawSocket.open({ port: target.port, localAddress: target.localAddress, headers });
        socket.text('[2,1]');
        const first = await socket.nextText(5_000);
        if (first !== undefined && holds(first, 3)) add(tally, 'ws-accepted');
        else add(tally, `ws-closed-${(await socket.waitClosed(5_000))?.code ?? 'open'}`);
        socket.destroy();
      } catch (error) {
        add(tally, error instanceof RefusedUpgrade ? `ws-refused-${error.status}` : 'ws-failed');
      }
      for (const kind of ['sse', 'poll'] as const) {
        const answer = await get(target, `/rt/${kind}?channel=feed`, headers, kind === 'sse' ? 200 : 100);
        add(tally, `${kind}-${answer?.status ?? 'failed'}`);
        if (answer?.headers['access-control-allow-origin'] === EVIL && answer.headers['access-control-allow-credentials'] === 'true') add(tally, `${kind}-cors-reflected`);
      }
    }
  },
};

const connectionFlood: Attack = {
  name: 'connection-flood',
  what: 'as many WebSockets, SSE streams and held polls as the server takes from one address, held open',
  async run(target, until, size, tally) {
    const limit = size === 'long' ? { ws: 3_000, sse: 1_000, poll: 1_000 } : { ws: 150, sse: 50, poll: 50 };
    const sockets: WebSocket[] = [];
    const streams: Socket[] = [];
    let refusedInARow = 0;
    // WebSockets, 50 at a time, until the server refuses 200 in a row (a cap) or the count is reached.
    while (sockets.length < limit.ws && Date.now() < until && refusedInARow < 200) {
      const wave = await Promise.all(Array.from({ length: 50 }, () => session(target, tally)));
      for (const opened of wave) {
        if (opened === undefined) refusedInARow++;
        else {
          refusedInARow = 0;
          sockets.push(opened.ws);
        }
      }
    }
    max(tally, 'ws-open-max', sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length);
    // SSE streams and polls that read nothing: a request each, held by the server.
    for (let i = 0; i < limit.sse && Date.now() < until; i++) streams.push(unreadRequest(target, `/rt/sse?channel=flood-${i % 50}`, bearer(target)));
    for (let i = 0; i < limit.poll && Date.now() < until; i++) streams.push(unreadRequest(target, `/rt/poll?channel=flood-${i % 50}`, bearer(target)));
    add(tally, 'http-requests', streams.length);
    while (Date.now() < until) await sleep(200);
    max(tally, 'ws-open-at-end', sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length);
    add(tally, 'http-dropped-by-server', streams.filter((s) => s.destroyed || s.readableEnded).length);
    for (const ws of sockets) ws.terminate();
    for (const s of streams) s.destroy();
  },
};

const loginFlood: Attack = {
  name: 'login-flood',
  what: 'failed logins as fast as the server answers: hellos with wrong tokens (16 at a time), SSE and polls with a wrong cookie',
  async run(target, until, size, tally) {
    let n = 0;
    const started = Date.now();
    const bound = size === 'long' ? 1_000_000 : 2_000;
    await workers(16, until, async (w) => {
      if (n >= bound) return false;
      n++;
      if (w % 4 === 3) {
        const kind = n % 2 === 0 ? 'sse' : 'poll';
        const answer = await get(target, `/rt/${kind}?channel=feed`, { Cookie: `rxmux_token=wrong-${n}` }, 50);
        add(tally, `${kind}-${answer?.status ?? 'failed'}`);
        return answer !== undefined;
      }
      const t0 = Date.now();
      try {
        const socket = await RawSocket.open({ port: target.port, localAddress: target.localAddress });
        socket.text(hello(`wrong-${n}`));
        const closed = await socket.waitClosed(10_000);
        add(tally, `ws-close-${closed?.code ?? 'open'}`);
        add(tally, 'ws-refusal-ms', Date.now() - t0);
        socket.destroy();
        return true;
      } catch (error) {
        add(tally, error instanceof RefusedUpgrade ? `ws-refused-${error.status}` : 'ws-failed');
        return error instanceof RefusedUpgrade;
      }
    });
    add(tally, 'attempts', n);
    add(tally, 'attempts-per-second', Math.round(n / Math.max(0.001, (Date.now() - started) / 1000)));
  },
};

/** Every attack, in the order the run goes through them. */
export const ATTACKS: readonly Attack[] = [
  relayFlood,
  nestedFrames,
  underRate,
  stalePoll,
  staleSse,
  unreadReplays,
  slowSubscribers,
  crossOrigin,
  connectionFlood,
  loginFlood,
];

/** The attack called `name`. */
export function attackNamed(name: string): Attack {
  const attack = ATTACKS.find((a) => a.name === name);
  if (attack === undefined) throw new Error(`unknown attack ${name}`);
  return attack;
}
