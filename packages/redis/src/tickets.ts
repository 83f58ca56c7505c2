/**
 * Single-use tickets in Redis, so an SSE stream or a poll may redeem on any
 * node the ticket its WebSocket got from another: `SET {p}:t:<ticket>
 * <principal JSON> PX ttl`, redeemed with `GETDEL` (once, atomically).
 */
import { randomBytes } from 'node:crypto';
import type { TicketStore } from '@rxmux/server';
import type { RedisNode } from './node.js';

/** The ticket store of one node. Made by `redis()`. Principals travel as JSON. */
export class RedisTicketStore<P> implements TicketStore<P> {
  constructor(private readonly node: RedisNode) {}

  async issue(principal: P, ttlMs: number): Promise<string> {
    // 128 random bits: the ticket is a bearer credential for one request.
    const ticket = randomBytes(16).toString('base64url');
    await this.node.cmd.set(this.node.keys.ticket(ticket), JSON.stringify(principal), 'PX', ttlMs);
    return ticket;
  }

  async redeem(ticket: string): Promise<P | undefined> {
    const json = await this.node.cmd.getdel(this.node.keys.ticket(ticket));
    return json === null ? undefined : (JSON.parse(json) as P);
  }
}
