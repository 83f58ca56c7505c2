/**
 * What each client address and each principal holds at once, against the
 * caps of `limits`: WebSocket connections, SSE streams, long-polls and
 * running requests. One count per key, created with the first hold and
 * dropped with the last, so the tables hold current holders only.
 *
 * ```
 *  take('streams', address, principal) ─▶ under both caps? ─▶ release()   (idempotent)
 *                                          │ no: 'address' | 'principal' (nothing taken)
 * ```
 */
import type { Limits } from '../limits.js';
import type { AddressUsage } from '../types.js';

/** What is capped per address and per principal. */
export type QuotaKind = keyof AddressUsage;

/** How many of each kind one address (or principal) holds. */
export type QuotaCounts = Record<QuotaKind, number>;

/** Gives a hold back (once; later calls do nothing). */
export type Release = () => void;

/** The caps of `limits`, by kind. */
function caps(limits: Limits): { readonly address: QuotaCounts; readonly principal: QuotaCounts } {
  return {
    address: {
      connections: limits.maxConnectionsPerAddress,
      streams: limits.maxStreamsPerAddress,
      polls: limits.maxPollsPerAddress,
      requests: limits.maxRequestsPerAddress,
    },
    principal: {
      connections: limits.maxConnectionsPerPrincipal,
      streams: limits.maxStreamsPerPrincipal,
      polls: limits.maxPollsPerPrincipal,
      requests: limits.maxRequestsPerPrincipal,
    },
  };
}

const zero = (): QuotaCounts => ({ connections: 0, streams: 0, polls: 0, requests: 0 });

/**
 * The key a principal is counted under: strings and numbers as they are,
 * objects as their JSON (the same rule as a session's resume), `null` (no
 * `authenticate`) under none.
 */
export function principalKey(principal: unknown): string | undefined {
  if (principal === null || principal === undefined) return undefined;
  if (typeof principal === 'string' || typeof principal === 'number' || typeof principal === 'boolean' || typeof principal === 'bigint') return `${typeof principal}:${principal}`;
  try {
    return `json:${JSON.stringify(principal)}`;
  } catch {
    return undefined;
  }
}

/** The holds of one server. */
export class Quotas {
  private readonly addresses = new Map<string, QuotaCounts>();
  private readonly principals = new Map<string, QuotaCounts>();
  private readonly caps: ReturnType<typeof caps>;

  constructor(limits: Limits) {
    this.caps = caps(limits);
  }

  /**
   * Takes one `kind` for `address` and `principal` (either may be unknown:
   * not counted) unless one of them holds its cap already. Returns the
   * release, or which cap refused.
   */
  take(kind: QuotaKind, address: string | undefined, principal: string | undefined): Release | 'address' | 'principal' {
    const byAddress = address === undefined ? undefined : this.addresses.get(address);
    if ((byAddress?.[kind] ?? 0) >= this.caps.address[kind]) return 'address';
    const byPrincipal = principal === undefined ? undefined : this.principals.get(principal);
    if ((byPrincipal?.[kind] ?? 0) >= this.caps.principal[kind]) return 'principal';
    const byA = count(this.addresses, address, kind);
    const byP = count(this.principals, principal, kind);
    if (byA === undefined && byP === undefined) return NOTHING_HELD;
    // One closure per hold (a connection holds one or two for its whole life): no array, no closure per table.
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (byA !== undefined) give(this.addresses, address as string, byA, kind);
      if (byP !== undefined) give(this.principals, principal as string, byP, kind);
    };
  }

  /** What every address holds now (`server.metrics().addresses`). */
  byAddress(): Readonly<Record<string, AddressUsage>> {
    return Object.fromEntries([...this.addresses].map(([address, counts]) => [address, { ...counts }]));
  }

  /** How many principals hold something now. */
  get principalCount(): number {
    return this.principals.size;
  }
}

/** The release of a hold nothing was counted for (neither address nor principal known). */
const NOTHING_HELD: Release = () => undefined;

/** Counts one more `kind` under `key` in `table`; returns the counts it went into (undone by {@link give}). */
function count(table: Map<string, QuotaCounts>, key: string | undefined, kind: QuotaKind): QuotaCounts | undefined {
  if (key === undefined) return undefined;
  let counts = table.get(key);
  if (counts === undefined) table.set(key, (counts = zero()));
  counts[kind]++;
  return counts;
}

/** Gives back one `kind` counted into `held` under `key`; the key goes with its last hold. */
function give(table: Map<string, QuotaCounts>, key: string, held: QuotaCounts, kind: QuotaKind): void {
  held[kind]--;
  if (held.connections + held.streams + held.polls + held.requests === 0 && table.get(key) === held) table.delete(key);
}
