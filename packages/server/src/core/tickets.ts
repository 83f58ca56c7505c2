/**
 * Single-use tickets for the SSE and long-poll endpoints: an authenticated
 * WebSocket asks for one (a `request` on `$rxmux.ticket`), the browser opens
 * its EventSource with `?ticket=`; the ticket names the principal, is good
 * for one request, and expires quickly. A held poll's answer carries the
 * next one. The token itself never travels in a URL.
 */
import { randomBytes } from 'node:crypto';
import type { Awaitable } from '../engines/engine.js';

/** How long a ticket stays redeemable, in ms. */
export const TICKET_TTL_MS = 30_000;

/** Where tickets live: in this process by default; a store shared by the nodes lets a stream land on any node. */
export interface TicketStore<P> {
  /** A new ticket for `principal`, redeemable once within `ttlMs`. */
  issue(principal: P, ttlMs: number): Awaitable<string>;
  /** The ticket's principal, once: `undefined` for an unknown, used or expired ticket. */
  redeem(ticket: string): Awaitable<P | undefined>;
}

/** Tickets in this process, bounded (the oldest outstanding ones go first). */
export class MemoryTicketStore<P> implements TicketStore<P> {
  private readonly tickets = new Map<string, { readonly principal: P; readonly expiresAt: number }>();

  constructor(
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  issue(principal: P, ttlMs: number): string {
    // 128 random bits: the ticket is a bearer credential for one request.
    const ticket = randomBytes(16).toString('base64url');
    if (this.tickets.size >= this.max) this.tickets.delete(this.tickets.keys().next().value as string);
    this.tickets.set(ticket, { principal, expiresAt: this.now() + ttlMs });
    return ticket;
  }

  redeem(ticket: string): P | undefined {
    const entry = this.tickets.get(ticket);
    if (entry === undefined) return undefined;
    this.tickets.delete(ticket);
    return entry.expiresAt >= this.now() ? entry.principal : undefined;
  }
}
