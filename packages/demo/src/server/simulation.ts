/**
 * The simulated match behind the demo: heart rate per subscribed player, a
 * match clock and score, a stats dashboard and highlights (over SSE), the
 * audio byte counter and the manual score entries. All timers are RxJS
 * subscriptions collected in one `Subscription`, stopped by `stop()`.
 */
import type { JsonValue } from '@rxmux/core/protocol';
import type { RxmuxServer } from '@rxmux/server';
import { interval, Subscription } from 'rxjs';

/** Channel names shared with the page. */
export const Channels = {
  score: 'match-score',
  dashboard: 'match-dashboard',
  highlights: 'match-highlights',
} as const;

const KINDS = ['goal', 'shot', 'foul', 'card'] as const;
type Kind = (typeof KINDS)[number];
type Team = 'home' | 'away';

/** A score event as the manual-input component sends it. */
export interface ScoreEntry {
  readonly team: Team;
  readonly kind: Kind;
  readonly note: string;
}

/** A score event the server accepted (what `GET /demo/api/state` lists). */
export interface ReceivedEntry extends ScoreEntry {
  readonly seq: number;
  readonly channel: string;
  readonly session: string;
  /** The client's message id (present when the client asked for an ack). */
  readonly id: number | null;
  readonly receivedAt: number;
}

/** Timing of the simulation, in ms. */
export interface SimulationOptions {
  readonly heartRateEvery: number;
  readonly clockEvery: number;
  readonly highlightEvery: number;
}

export const DEFAULT_SIMULATION: SimulationOptions = { heartRateEvery: 250, clockEvery: 1000, highlightEvery: 4000 };

/** A validation failure of a client message: the handler throws it, the client's ack errors with `code`. */
class InvalidEntryError extends Error {
  readonly code = 'DEMO_ERR_INVALID_ENTRY';
}

function parseEntry(data: unknown): ScoreEntry {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InvalidEntryError('entry must be an object');
  const { team, kind, note } = data as Record<string, unknown>;
  if (team !== 'home' && team !== 'away') throw new InvalidEntryError('team must be "home" or "away"');
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) throw new InvalidEntryError(`kind must be one of ${KINDS.join(', ')}`);
  if (note !== undefined && (typeof note !== 'string' || note.length > 120)) throw new InvalidEntryError('note must be a string of at most 120 characters');
  return { team, kind: kind as Kind, note: typeof note === 'string' ? note : '' };
}

const PLAYS = [
  'Long ball over the top',
  'Corner kick, headed clear',
  'Quick one-two down the left',
  'Save at the near post',
  'Offside flag goes up',
  'Shot from distance, just wide',
  'Counter-attack, 3 on 2',
  'Free kick into the wall',
];

/** The running simulation. */
export interface Simulation {
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  /** Score entries received, oldest first. */
  readonly entries: readonly ReceivedEntry[];
  /** A JSON snapshot for the state endpoint. */
  snapshot(): Record<string, JsonValue>;
  stop(): void;
}

/** Installs the channel handlers on `rt` and starts the timers. */
export function startSimulation(rt: RxmuxServer, options: SimulationOptions = DEFAULT_SIMULATION): Simulation {
  const started = Date.now();
  const subscriptions = new Subscription();
  /** Subscribed sessions per player channel: only those get a heart rate. */
  const players = new Map<string, { bpm: number; sessions: Set<string> }>();
  const audio = new Map<string, { bytes: number; chunks: number }>();
  const entries: ReceivedEntry[] = [];
  const score = { home: 0, away: 0 };
  let matchMs = 0;
  let paused = false;
  let highlightSeq = 0;

  const publish = (channel: string, data: JsonValue): void => {
    rt.publish(channel, data).catch(() => undefined); // only fails while the server closes
  };
  const clock = (): string => {
    const seconds = Math.floor(matchMs / 1000);
    return `${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
  };
  const scoreView = (): JsonValue => ({ home: score.home, away: score.away, clock: clock(), paused, events: entries.length });
  const highlight = (kind: string, text: string): void => {
    publish(Channels.highlights, { n: ++highlightSeq, kind, text, clock: clock(), at: Date.now() });
  };

  subscriptions.add(
    rt.handle('player-*', {
      onSubscribe: (ctx) => {
        const player = players.get(ctx.channel) ?? { bpm: 70 + Math.round(Math.random() * 20), sessions: new Set<string>() };
        player.sessions.add(ctx.session);
        players.set(ctx.channel, player);
      },
      onUnsubscribe: (ctx) => {
        const player = players.get(ctx.channel);
        player?.sessions.delete(ctx.session);
        if (player?.sessions.size === 0) players.delete(ctx.channel);
      },
    }),
  );

  /** Bytes per sender and channel: what each recorder is told it delivered. */
  const received = new Map<string, { bytes: number; chunks: number }>();
  subscriptions.add(
    rt.handle('audio-recorder*', {
      onMessage: (ctx, data) => {
        if (!(data instanceof Uint8Array)) throw new InvalidEntryError('audio-recorder expects binary PCM chunks');
        const total = audio.get(ctx.channel) ?? { bytes: 0, chunks: 0 };
        total.bytes += data.byteLength;
        total.chunks += 1;
        audio.set(ctx.channel, total);
        const key = `${ctx.session} ${ctx.channel}`;
        const mine = received.get(key) ?? { bytes: 0, chunks: 0 };
        mine.bytes += data.byteLength;
        mine.chunks += 1;
        received.set(key, mine);
        ctx.send({ bytes: mine.bytes, chunks: mine.chunks }); // the acknowledgement goes to the sender only
      },
      onRequest: (ctx) => received.get(`${ctx.session} ${ctx.channel}`) ?? { bytes: 0, chunks: 0 },
      onUnsubscribe: (ctx) => received.delete(`${ctx.session} ${ctx.channel}`),
    }),
  );

  subscriptions.add(
    rt.handle('manual-input*', {
      onMessage: (ctx, data) => {
        const entry = parseEntry(data);
        const received: ReceivedEntry = { ...entry, seq: entries.length + 1, channel: ctx.channel, session: ctx.session, id: ctx.id ?? null, receivedAt: Date.now() };
        entries.push(received);
        if (entry.kind === 'goal') score[entry.team] += 1;
        ctx.publish({ seq: received.seq, team: entry.team, kind: entry.kind, note: entry.note });
        publish(Channels.score, scoreView());
        highlight(entry.kind, `${entry.kind.toUpperCase()} ${entry.team}${entry.note === '' ? '' : `: ${entry.note}`}`);
      },
    }),
  );

  subscriptions.add(
    interval(options.heartRateEvery).subscribe(() => {
      if (paused) return;
      for (const [channel, player] of players) {
        player.bpm = Math.max(55, Math.min(185, player.bpm + Math.round((Math.random() - 0.45) * 6)));
        publish(channel, { bpm: player.bpm, t: Date.now() });
      }
    }),
  );
  subscriptions.add(
    interval(options.clockEvery).subscribe(() => {
      if (paused) return;
      matchMs += options.clockEvery;
      publish(Channels.score, scoreView());
      const m = rt.metrics();
      const bytes = [...audio.values()].reduce((sum, a) => sum + a.bytes, 0);
      publish(Channels.dashboard, {
        clock: clock(),
        players: [...players].map(([id, p]) => ({ id, bpm: p.bpm })).sort((a, b) => a.id.localeCompare(b.id)),
        audioBytes: bytes,
        scoreEvents: entries.length,
        connections: m.connections,
        streams: m.streams,
        channels: m.channels,
        messagesIn: m.messagesIn,
        messagesOut: m.messagesOut,
        framesOut: m.framesOut,
      });
    }),
  );
  subscriptions.add(
    interval(options.highlightEvery).subscribe(() => {
      if (paused) return;
      highlight('play', PLAYS[Math.floor(Math.random() * PLAYS.length)] as string);
    }),
  );

  return {
    get paused() {
      return paused;
    },
    pause: () => {
      paused = true;
      publish(Channels.score, scoreView());
    },
    resume: () => {
      paused = false;
      publish(Channels.score, scoreView());
    },
    entries,
    snapshot: () => ({
      startedAt: started,
      paused,
      score: scoreView(),
      players: [...players].map(([id, p]) => ({ id, bpm: p.bpm, sessions: p.sessions.size })),
      audio: Object.fromEntries([...audio].map(([id, a]) => [id, { bytes: a.bytes, chunks: a.chunks }])),
      entries: entries.map((e) => ({ ...e })),
    }),
    stop: () => subscriptions.unsubscribe(),
  };
}
