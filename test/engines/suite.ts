/**
 * The engine conformance suite: the behaviour every engine (and its session
 * and ticket stores) must show, run against each implementation
 * (`memory.test.ts`, `slow.test.ts`, `redis.test.ts`), in the manner of
 * socket.io's adapter tests and Centrifugo's engine tests.
 *
 * A harness hands the suite "nodes": engines (with their stores) sharing one
 * backend. A single-process engine has one node; the tests that need two use
 * the same node twice, and those that need a node to die or a connection to
 * drop run only where the harness can do it.
 */
import { describe, expect, it } from 'vitest';
import type { Payload } from '@rxmux/core/protocol';
import { PendingRequest, type Engine, type EnginePublication, type EngineSink, type EngineStatus, type PresenceEvent, type SessionSocket, type SessionStore, type TicketStore } from '@rxmux/server';
import { sleep, until } from '../support/wait.js';

/** The principal the suite's members and sessions carry. */
export interface User {
  readonly user: string;
}

/** What an engine delivered to its sink, in order. */
export class RecordingSink implements EngineSink<User> {
  readonly publications: EnginePublication[] = [];
  readonly presenceEvents: PresenceEvent<User>[] = [];
  readonly resets: string[][] = [];
  readonly statuses: EngineStatus[] = [];
  readonly errors: unknown[] = [];

  publication(publication: EnginePublication): void {
    this.publications.push(publication);
  }

  presence(event: PresenceEvent<User>): void {
    this.presenceEvents.push(event);
  }

  reset(channels: readonly string[]): void {
    this.resets.push([...channels]);
  }

  status(status: EngineStatus): void {
    this.statuses.push(status);
  }

  error(error: unknown): void {
    this.errors.push(error);
  }

  of(channel: string): EnginePublication[] {
    return this.publications.filter((p) => p.channel === channel);
  }
}

/** One node of the engine under test: started, with its stores. */
export interface EngineNode {
  readonly engine: Engine<User>;
  readonly sink: RecordingSink;
  readonly sessions: SessionStore<User>;
  readonly tickets: TicketStore<User>;
}

/** How the suite gets nodes of the engine under test. */
export interface EngineHarness {
  /** Whether nodes share a backend across processes (presence expiry, takeovers between nodes). */
  readonly multiNode: boolean;
  /** How long a crashed node's presence entries may outlive it, in ms (multi-node engines). */
  readonly leaseMs?: number;
  /**
   * Starts `count` nodes on one fresh backend (a single-node engine: one
   * node, returned `count` times), with these history bounds and session limits.
   */
  nodes(count: number, bounds: { readonly historySize: number; readonly historyTtlMs: number; readonly sessionTtlMs?: number }): Promise<readonly EngineNode[]>;
  /** Kills a node as a crash would (nothing let go). */
  crash?(node: EngineNode): void;
  /** Makes the node miss publications of its subscribed channels (a dropped pub/sub connection): the engine must reset them. */
  disrupt?(node: EngineNode): Promise<void>;
}

/** A fake socket a session is attached to: what it was sent, and whether it was superseded. */
class FakeSocket implements SessionSocket {
  readonly sent: string[] = [];
  wasSuperseded = false;

  enqueue(envelope: string): void {
    this.sent.push(envelope);
  }

  superseded(): void {
    this.wasSuperseded = true;
  }
}

const socket = (): FakeSocket => new FakeSocket();

const alice: User = { user: 'alice' };
const seqs = (publications: readonly EnginePublication[]): number[] => publications.map((p) => p.seq);
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** Runs the suite for one engine. */
export function engineConformance(name: string, harness: EngineHarness): void {
  const two = async (bounds = { historySize: 100, historyTtlMs: 60_000 }): Promise<readonly [EngineNode, EngineNode]> => {
    const nodes = await harness.nodes(2, bounds);
    const [a, b] = nodes;
    if (a === undefined || b === undefined) throw new Error('the harness returned fewer than two nodes');
    return [a, b];
  };

  describe(`engine conformance: ${name}`, () => {
    it('sequences a channel 1, 2, 3… and delivers it in order to a subscribed node, once each', async () => {
      const [a, b] = await two();
      await b.engine.subscribe('ordered');
      const published = await Promise.all(range(1, 200).map((i) => Promise.resolve(a.engine.publish('ordered', { i }))));
      expect(seqs(published).sort((x, y) => x - y)).toEqual(range(1, 200));
      expect(new Set(published.map((p) => p.epoch)).size).toBe(1);
      expect(await until(() => b.sink.of('ordered').length >= 200, 10_000)).toBe(true);
      expect(seqs(b.sink.of('ordered'))).toEqual(range(1, 200));
      // the data travels with its seq: each publication is the one published under that seq
      const bySeq = new Map(published.map((p) => [p.seq, p.data]));
      expect(b.sink.of('ordered').every((p) => JSON.stringify(p.data) === JSON.stringify(bySeq.get(p.seq)))).toBe(true);
    });

    it('carries JSON and bytes unchanged, and stops delivering after unsubscribe', async () => {
      const [a, b] = await two();
      await b.engine.subscribe('kinds');
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255, 10, 13]);
      const values: Payload[] = [{ nested: [1, 'two', null, true] }, 'text with\nnewline', 42, bytes];
      for (const value of values) await a.engine.publish('kinds', value);
      expect(await until(() => b.sink.of('kinds').length === values.length, 5000)).toBe(true);
      const got = b.sink.of('kinds').map((p) => p.data);
      expect(got.slice(0, 3)).toEqual(values.slice(0, 3));
      expect(got[3]).toBeInstanceOf(Uint8Array);
      expect([...(got[3] as Uint8Array)]).toEqual([...bytes]);
      expect([...((await a.engine.history('kinds', 3, 10)).publications[0]?.data as Uint8Array)]).toEqual([...bytes]);
      if (harness.multiNode) {
        await b.engine.unsubscribe('kinds');
        await a.engine.publish('kinds', 'after');
        await b.engine.subscribe('marker');
        await a.engine.publish('marker', 1);
        expect(await until(() => b.sink.of('marker').length === 1, 5000)).toBe(true);
        expect(b.sink.of('kinds').length).toBe(values.length);
      }
    });

    it('position: the epoch and newest seq; a channel never published has last 0 and keeps its epoch when first published', async () => {
      const [a, b] = await two();
      const fresh = await b.engine.position('fresh');
      expect(fresh.last).toBe(0);
      const first = await a.engine.publish('fresh', 1);
      expect(first.epoch).toBe(fresh.epoch);
      expect(first.seq).toBe(1);
      expect(await b.engine.position('fresh')).toEqual({ epoch: fresh.epoch, last: 1 });
    });

    it('history: the newest `limit` after since, oldest first; complete only when it holds everything after since', async () => {
      const [a, b] = await two({ historySize: 5, historyTtlMs: 60_000 });
      for (let i = 1; i <= 12; i++) await a.engine.publish('bounded', i);
      const all = await b.engine.history('bounded', 0, 100);
      expect(seqs(all.publications)).toEqual([8, 9, 10, 11, 12]); // the count bound
      expect(all).toMatchObject({ last: 12, complete: false });
      expect(await b.engine.history('bounded', 7, 100)).toMatchObject({ complete: true, last: 12 });
      expect(seqs((await b.engine.history('bounded', 7, 100)).publications)).toEqual([8, 9, 10, 11, 12]);
      expect(await b.engine.history('bounded', 6, 100)).toMatchObject({ complete: false });
      expect(seqs((await b.engine.history('bounded', 9, 2)).publications)).toEqual([11, 12]); // limit: the newest
      expect(await b.engine.history('bounded', 9, 2)).toMatchObject({ complete: false });
      expect(await b.engine.history('bounded', 12, 100)).toMatchObject({ complete: true, publications: [] });
      expect(await b.engine.history('bounded', 15, 100)).toMatchObject({ complete: false, last: 12, publications: [] }); // ahead
      expect(await b.engine.history('never', 0, 10)).toMatchObject({ complete: true, last: 0, publications: [] });
    });

    it('history: publications older than historyTtlMs are not replayed', async () => {
      const [a, b] = await two({ historySize: 100, historyTtlMs: 300 });
      await a.engine.publish('aged', 1);
      await a.engine.publish('aged', 2);
      const published = Date.now();
      await sleep(450 - (Date.now() - published)); // past the age bound (the engine's clock, not asserted)
      await a.engine.publish('aged', 3);
      const history = await b.engine.history('aged', 0, 100);
      expect(seqs(history.publications)).toEqual([3]);
      expect(history).toMatchObject({ last: 3, complete: false });
      expect(await b.engine.history('aged', 2, 100)).toMatchObject({ complete: true });
    });

    it('subscribe, then read: nothing published meanwhile falls between the history answer and live delivery (rules 1 and 2)', async () => {
      const [a, b] = await two({ historySize: 1000, historyTtlMs: 60_000 });
      for (let i = 1; i <= 20; i++) await a.engine.publish('race', i);
      const state = { publishing: true };
      const publisher = (async () => {
        for (let i = 21; i <= 400 && state.publishing; i++) await a.engine.publish('race', i);
      })();
      await sleep(5);
      await b.engine.subscribe('race');
      const history = await b.engine.history('race', 0, 1000);
      const deliveredByTheAnswer = b.sink.of('race').length;
      await sleep(20);
      state.publishing = false;
      await publisher;
      const last = (await a.engine.position('race')).last;
      expect(await until(() => b.sink.of('race').at(-1)?.seq === last, 10_000)).toBe(true);
      expect(history.complete).toBe(true);
      expect(seqs(history.publications)).toEqual(range(1, history.last));
      const live = seqs(b.sink.of('race'));
      // rule 1: live delivery is contiguous from where it started, and starts no later than after the answer
      expect(live).toEqual(range(live[0] ?? 1, last));
      expect(live[0] ?? 1).toBeLessThanOrEqual(history.last + 1);
      // rule 2: whatever of the answer was also delivered live came before the answer resolved
      expect(live.filter((seq) => seq <= history.last).length).toBeLessThanOrEqual(deliveredByTheAnswer);
    });

    it('presence: join and leave are announced to every node and listed by presence()', async () => {
      const [a, b] = await two();
      await a.engine.join('room', { session: 's1', principal: alice, transport: 'ws' });
      await b.engine.join('room', { session: 's2', principal: { user: 'bob' }, transport: 'sse' });
      expect(await until(async () => (await a.engine.presence('room')).length === 2, 5000)).toBe(true);
      const members = await b.engine.presence('room');
      expect(members.map((m) => m.session).sort()).toEqual(['s1', 's2']);
      expect(members.find((m) => m.session === 's1')).toEqual({ session: 's1', principal: alice, transport: 'ws' });
      expect(await until(() => b.sink.presenceEvents.some((e) => e.type === 'join' && e.member.session === 's1'), 5000)).toBe(true);
      await a.engine.leave('room', 's1');
      await a.engine.leave('room', 'unknown'); // ignored
      expect(await until(() => b.sink.presenceEvents.some((e) => e.type === 'leave' && e.member.session === 's1'), 5000)).toBe(true);
      expect((await b.engine.presence('room')).map((m) => m.session)).toEqual(['s2']);
      expect(b.sink.presenceEvents.find((e) => e.type === 'leave')).toEqual({ type: 'leave', channel: 'room', member: { session: 's1', principal: alice, transport: 'ws' } });
    });

    it.runIf(harness.multiNode && harness.crash !== undefined)('presence: a crashed node’s members disappear within its lease, with a leave', async () => {
      const [a, b] = await two();
      await a.engine.join('lease', { session: 'doomed', principal: alice, transport: 'ws' });
      await b.engine.join('lease', { session: 'alive', principal: alice, transport: 'ws' });
      expect(await until(async () => (await b.engine.presence('lease')).length === 2, 5000)).toBe(true);
      harness.crash?.(a);
      const lease = harness.leaseMs ?? 1000;
      expect(await until(async () => (await b.engine.presence('lease')).length === 1, lease * 4)).toBe(true);
      expect((await b.engine.presence('lease')).map((m) => m.session)).toEqual(['alive']);
      expect(await until(() => b.sink.presenceEvents.some((e) => e.type === 'leave' && e.member.session === 'doomed'), lease * 4)).toBe(true);
    });

    it('sessions: a resume (on another node) finds the received count, the dedupe window, the replies and the running ids', async () => {
      const [a, b] = await two();
      const first = socket();
      const opened = await a.sessions.open(undefined, alice, first);
      expect(opened.resumed).toBe(false);
      const s = opened.session;
      expect([s.take(), s.take(), s.take()]).toEqual([1, 2, 3]);
      expect(await s.seen(1)).toBeUndefined();
      s.started(1);
      s.finished(1, '[9,1]');
      s.started(2); // still running when the socket goes
      s.requests.set(7, new PendingRequest());
      s.requestStarted(7); // still running too
      s.requests.set(5, new PendingRequest());
      s.requestStarted(5);
      s.replied(5, '[11,5,"five"]');
      expect(first.sent).toEqual(['[9,1]', '[11,5,"five"]']);
      await a.sessions.detach(s, first, true);

      const second = socket();
      const resumed = await b.sessions.open(s.id, alice, second);
      expect(resumed.resumed).toBe(true);
      const r = resumed.session;
      expect(r.id).toBe(s.id);
      expect(r.principal).toEqual(alice);
      expect(r.received).toBe(3);
      expect(await r.seen(1)).toEqual({ answer: '[9,1]' });
      expect(await r.seen(2)).toBe('running');
      expect(await r.seen(3)).toBeUndefined();
      expect(await r.reply(5)).toEqual({ answer: '[11,5,"five"]' });
      expect(await r.reply(7)).toBe('running');
      expect(await r.reply(8)).toBeUndefined();
      expect(await r.drain()).toEqual([]);
      // handlers still running where the session was: their answers reach the socket that has it now
      s.finished(2, '[9,2]');
      s.replied(7, '[11,7,"seven"]');
      expect(await until(() => second.sent.length === 2, 5000)).toBe(true);
      expect(second.sent).toEqual(['[9,2]', '[11,7,"seven"]']);
      expect(await r.seen(2)).toEqual({ answer: '[9,2]' });
      expect(r.take()).toBe(4);
      // another principal never resumes it
      const stranger = await b.sessions.open(s.id, { user: 'mallory' }, socket());
      expect(stranger.resumed).toBe(false);
      expect(stranger.session.id).not.toBe(s.id);
    });

    it('sessions: answers completed while detached wait for the resume (drain); a normal close ends the session', async () => {
      const [a, b] = await two();
      const first = socket();
      const { session } = await a.sessions.open(undefined, alice, first);
      session.started(1);
      await a.sessions.detach(session, first, true);
      session.finished(1, '[9,1]');
      session.send('[11,2,null]');
      const second = socket();
      const resumed = await b.sessions.open(session.id, alice, second);
      expect(resumed.resumed).toBe(true);
      expect(await until(async () => (await resumed.session.seen(1)) !== 'running', 5000)).toBe(true);
      expect(await resumed.session.drain()).toEqual(['[9,1]', '[11,2,null]']);
      await b.sessions.detach(resumed.session, second, false);
      expect((await a.sessions.open(session.id, alice, socket())).resumed).toBe(false);
    });

    it('sessions: a hello that takes over a session still attached elsewhere supersedes that socket first', async () => {
      const [a, b] = await two();
      const first = socket();
      const { session } = await a.sessions.open(undefined, alice, first);
      session.take();
      session.take();
      const second = socket();
      const resumed = await b.sessions.open(session.id, alice, second);
      expect(resumed.resumed).toBe(true);
      expect(resumed.session.received).toBe(2);
      expect(first.wasSuperseded).toBe(true);
      // the superseded socket's late detach changes nothing
      await a.sessions.detach(session, first, true);
      expect((await b.sessions.open(session.id, alice, socket())).resumed).toBe(true);
    });

    it('tickets: redeemable once, on any node, until they expire', async () => {
      const [a, b] = await two();
      const ticket = await a.tickets.issue(alice, 30_000);
      expect(await b.tickets.redeem(ticket)).toEqual(alice);
      expect(await a.tickets.redeem(ticket)).toBeUndefined();
      expect(await b.tickets.redeem('unknown')).toBeUndefined();
      const short = await a.tickets.issue(alice, 20);
      await sleep(60);
      expect(await b.tickets.redeem(short)).toBeUndefined();
    });

    it.runIf(harness.disrupt !== undefined)('reset: publications a node may have missed are announced for its subscribed channels, and the history still holds them', async () => {
      const [a, b] = await two();
      await b.engine.subscribe('lossy');
      await b.engine.subscribe('other');
      await a.engine.publish('lossy', 0);
      expect(await until(() => b.sink.of('lossy').length === 1, 5000)).toBe(true);
      await harness.disrupt?.(b);
      for (let i = 1; i <= 5; i++) await Promise.resolve(a.engine.publish('lossy', i)).catch(() => undefined);
      expect(await until(() => b.sink.resets.some((r) => r.includes('lossy')), 15_000)).toBe(true);
      // the re-read a server makes after the reset: what the sink missed is in the history, or the epoch moved on
      const lastSeen = b.sink.of('lossy').at(-1);
      const after = await b.engine.history('lossy', lastSeen?.seq ?? 0, 100);
      if (after.epoch === lastSeen?.epoch) expect(seqs(after.publications)).toEqual(range((lastSeen.seq) + 1, after.last));
      await a.engine.publish('lossy', 'live again');
      expect(await until(() => b.sink.of('lossy').some((p) => p.data === 'live again'), 5000)).toBe(true);
    });
  });
}
