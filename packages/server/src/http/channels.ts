/**
 * What the SSE and long-poll endpoints share: which requested channels a
 * stream may carry, and reading every channel's history for its gate.
 */
import { channelIdProblem, ErrorCode, type ChannelErrorEvent } from '@rxmux/core/protocol';
import type { HistoryResult } from '../engines/engine.js';
import type { StreamHost } from '../core/stream-host.js';
import type { Subscriber } from '../core/hub.js';
import type { ChannelReader, ReplayGate } from '../core/replay-gate.js';

/** A channel of an SSE / poll request that was refused; the others carry on. */
export type ChannelError = ChannelErrorEvent;

/** Who an SSE stream or a poll serves: the door's verdict, and the CORS headers of its answer. */
export interface StreamClient<P> {
  readonly principal: P;
  /** The client address (caps per address); undefined: not counted. */
  readonly address: string | undefined;
  readonly headers: Record<string, string>;
  /** Charges `bytes` of replay to the client's address (`limits.replayBytesPerSecond`): 0 when paid, else the ms to wait (nothing taken). */
  readonly replay: (bytes: number) => number;
}

/** Splits requested channels into accepted ones and refusals (invalid, over the limit, forbidden). */
export async function admitChannels<P>(host: StreamHost<P>, principal: P, names: readonly string[]): Promise<{ channels: string[]; errors: ChannelError[] }> {
  const channels: string[] = [];
  const errors: ChannelError[] = [];
  const candidates: string[] = [];
  const max = host.limits.maxChannelsPerConnection;
  for (const channel of names) {
    const problem = channelIdProblem(channel);
    if (problem !== undefined) errors.push({ channel: channel.slice(0, 64), code: ErrorCode.InvalidChannel, message: problem });
    else if (candidates.length >= max) errors.push({ channel, code: ErrorCode.TooManyChannels, message: `at most ${max} channels per stream` });
    else if (!host.hasRoom(channel)) errors.push({ channel, code: ErrorCode.TooManyChannels, message: 'the server has as many channels as it takes' });
    else candidates.push(channel);
  }
  const verdicts = await Promise.all(candidates.map((c) => Promise.resolve(host.authorize(principal, c, 'subscribe'))));
  candidates.forEach((channel, i) => {
    if (verdicts[i] === true) channels.push(channel);
    else errors.push({ channel, code: ErrorCode.Forbidden, message: `not allowed to subscribe to ${channel}` });
  });
  return { channels, errors };
}

/**
 * Holds every channel of a stream in its gate (its cursor entries are where
 * they resume; entries for channels not requested are forgotten), subscribes
 * `subscriber` to live delivery and waits for the engine's subscriptions, then
 * reads every history and settles the gate. The caller writes its opening and
 * then releases each channel.
 */
export async function catchUp<P>(host: StreamHost<P>, gate: ReplayGate, subscriber: Subscriber, channels: readonly string[]): Promise<void> {
  for (const channel of [...gate.positions.keys()]) if (!channels.includes(channel)) gate.drop(channel);
  const subscribed: Promise<void>[] = [];
  for (const channel of channels) {
    gate.hold(channel);
    const live = host.subscribe(channel, subscriber);
    if (live !== undefined) subscribed.push(live);
  }
  if (subscribed.length > 0) await Promise.all(subscribed);
  const histories: HistoryResult[] = await Promise.all(channels.map((channel) => Promise.resolve(gate.read(channel))));
  channels.forEach((channel, i) => {
    const history = histories[i];
    if (history !== undefined) gate.settle(channel, history);
  });
}

/** How a stream's gate reads its channels: the engine's, through the host. */
export function streamReader<P>(host: StreamHost<P>): ChannelReader {
  return {
    position: (channel) => host.position(channel),
    history: (channel, since, limit) => host.history(channel, since, limit),
    limit: host.limits.historySize,
  };
}
