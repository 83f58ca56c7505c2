/**
 * The hostile clients of issue 14's "Why" list, one function each. An attack
 * knows only the server's address (no server code): it opens sockets and
 * HTTP requests from the attacker's loopback address, for a bounded time and
 * a bounded count, and tallies what it saw (close codes, HTTP statuses, bytes
 * it got). The soak's attack mode runs each in a process of its own against a
 * server with legitimate clients on it; the short tests in `test/hostile/`
 * run the same functions, smaller, in process.
 */
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { RawSocket, RefusedUpgrade } from './raw-socket.js';
import { add, bearer, bigMessage, deepArrays, get, hello, holds, max, memo, nonReader, session, staleRequest, stream, unreadRequest, wideArrays, workers } from './attack-tools.js';
import type { AttackSize, AttackTarget, Preload } from './attack-tools.js';
import type { AttackTally } from './types.js';

export type { AttackSize, AttackTarget, Preload } from './attack-tools.js';

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
  // long: 20 channels × 100 publications of 50 KiB ≈ 100 MiB of history, the "102 MiB answer"
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
