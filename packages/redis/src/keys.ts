/**
 * The key layout. Every key of one channel shares the hash tag `{channel}`
 * and every key of one session the tag `{session}`, so each lives in one
 * Redis Cluster slot and the scripts that touch them stay single-slot.
 *
 * | key | type | holds |
 * | --- | --- | --- |
 * | `{p}:{ch}:m` | hash | `e` the channel's history epoch, `s` its newest seq |
 * | `{p}:{ch}:h` | stream | the history: entry id `<seq>-0`, fields `k` (J: JSON, B: bytes), `d` (data), `t` (ms) |
 * | `{p}:{ch}:p` | hash | presence: session → `<node>\n<member JSON>` |
 * | `{p}:{ch}` | pub/sub | publications: `<k><epoch>\n<seq>\n<data>` |
 * | `{p}:presence` | pub/sub | presence events (JSON) |
 * | `{p}:nodes` | zset | node → lease expiry (ms, Redis clock) |
 * | `{p}:node:<id>` | pub/sub | the node's control channel (takeover, released, owed, resumed, cancel) |
 * | `{p}:node:<id>:c` | set | channels where the node has presence members (for the sweeper) |
 * | `{p}:node:<id>:s` | set | sessions attached on the node (for the sweeper) |
 * | `{p}:s:{sid}` | hash | session: `p` principal, `r` received, `o` owner node, `c` claimant, `l` last owner, `m` / `q` highest message / request id |
 * | `{p}:s:{sid}:d` | hash | dedupe: `m<id>` / `r<id>` answer, `M<id>` / `R<id>` node running it |
 * | `{p}:s:{sid}:mq`, `:rq` | list | answered message / request ids, oldest first (the window bounds) |
 * | `{p}:s:{sid}:w` | list | answers owed (completed while the session had no socket on the answering node) |
 * | `{p}:t:<ticket>` | string | a single-use ticket's principal, with its TTL |
 */

/** Channel names may hold `{`, `}`: escaped, so the hash tag is always the whole (escaped) name. */
function escapeTag(name: string): string {
  return name.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'));
}

/** Every key and pub/sub channel name the package uses, under one prefix. */
export class Keys {
  readonly nodes: string;
  readonly presence: string;

  constructor(readonly prefix: string) {
    this.nodes = `${prefix}:nodes`;
    this.presence = `${prefix}:presence`;
  }

  /** The pub/sub channel of `channel`'s publications (also the prefix of its keys). */
  channel(channel: string): string {
    return `${this.prefix}:{${escapeTag(channel)}}`;
  }

  meta(channel: string): string {
    return `${this.channel(channel)}:m`;
  }

  stream(channel: string): string {
    return `${this.channel(channel)}:h`;
  }

  members(channel: string): string {
    return `${this.channel(channel)}:p`;
  }

  control(node: string): string {
    return `${this.prefix}:node:${node}`;
  }

  nodeChannels(node: string): string {
    return `${this.prefix}:node:${node}:c`;
  }

  nodeSessions(node: string): string {
    return `${this.prefix}:node:${node}:s`;
  }

  /** The five keys of a session, in the order the session scripts take them. */
  session(id: string): readonly [string, string, string, string, string] {
    const base = `${this.prefix}:s:{${id}}`;
    return [base, `${base}:d`, `${base}:mq`, `${base}:rq`, `${base}:w`];
  }

  ticket(ticket: string): string {
    return `${this.prefix}:t:${ticket}`;
  }
}
