/** The three network contenders and the wire conventions the anchors use. */

/** Which implementation a run measures. */
export type Contender = 'ws' | 'socket.io' | 'rxmux';

/** Every network contender, in table order (anchors first). */
export const CONTENDERS: readonly Contender[] = ['ws', 'socket.io', 'rxmux'];

/** Channel names the scenarios use (the same on every contender). */
export const CH = { fanin: 'fanin', rtt: 'rtt', fanout: 'fanout', idle: 'idle', binary: 'bin' } as const;

/**
 * Raw ws messages (JSON with a channel field), client to server:
 * `{type:'sub',channel}`, `{type:'msg',channel,data}`, `{type:'req',channel,id,data}`;
 * server to client: `{type:'pub',channel,data}`, `{type:'res',id,data}`.
 * Binary messages are counted as bytes on the binary channel.
 */
export type RawWsMessage =
  | { readonly type: 'sub'; readonly channel: string }
  | { readonly type: 'msg'; readonly channel: string; readonly data: unknown }
  | { readonly type: 'req'; readonly channel: string; readonly id: number; readonly data: unknown }
  | { readonly type: 'pub'; readonly channel: string; readonly data: unknown }
  | { readonly type: 'res'; readonly id: number; readonly data: unknown };
