/**
 * What each client address and each principal holds at once, against the
 * caps of `limits`: WebSocket connections, SSE streams, long-polls and
 * running requests. One count per key, created with the first hold and
 * dropped with the last, so the tables hold current holders only.
 *
 * ```
 *  take('streams', address, principal) ─▶ under both caps? ─▶ hold.release()   (idempotent)
 *                                          │ no: 'address' | 'principal' (nothing taken)
 * ```
 */
import type { Limits } from '../limits.js';
import type { AddressUsage } from '../types.js';

/** What is capped per address and per principal. */
export type QuotaKind = keyof AddressUsage;

/** How many of each kind one address (or principal) holds. */
export type QuotaCounts = Record<QuotaKind, number>;

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
   * hold, or which cap refused.
   */
  take(kind: QuotaKind, address: string | undefined, principal: string | undefined): Hold | 'address' | 'principal' {
    if (this.full('address', kind, address)) return 'address';
    if (this.full('principal', kind, principal)) return 'principal';
    count(this.addresses, address, kind);
    count(this.principals, principal, kind);
    return new Hold(this, kind, address, principal);
  }

  /** Whether `key` holds its cap of `kind` already (an unknown key never does). */
  full(by: 'address' | 'principal', kind: QuotaKind, key: string | undefined): boolean {
    if (key === undefined) return false;
    const held = (by === 'address' ? this.addresses : this.principals).get(key)?.[kind] ?? 0;
    return held >= this.caps[by][kind];
  }

  /** Counts one more `kind` under `principal` (the caller checked {@link full}). */
  countPrincipal(kind: QuotaKind, principal: string): void {
    count(this.principals, principal, kind);
  }

  /** Gives back one `kind` counted under `address` and `principal` by {@link take} (or {@link Hold.widen}). */
  give(kind: QuotaKind, address: string | undefined, principal: string | undefined): void {
    if (address !== undefined) give(this.addresses, address, kind);
    if (principal !== undefined) give(this.principals, principal, kind);
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

/**
 * One `kind` held under an address and a principal (either may be unknown:
 * nothing counted there) until {@link release}. An object with the keys, not
 * a closure: a connection holds one for its whole life, and this is 56 B
 * where a closure and its context were 144 B.
 */
export class Hold {
  constructor(
    private readonly quotas: Quotas,
    private readonly kind: QuotaKind,
    /** The keys counted; both undefined once released. */
    private address: string | undefined,
    private principal: string | undefined,
  ) {}

  /**
   * Also counts this hold under `principal` (a socket's, known once its
   * credentials were verified; the hold was taken without one), unless that
   * principal holds its cap: then false, and the hold is as it was.
   */
  widen(principal: string | undefined): boolean {
    if (this.quotas.full('principal', this.kind, principal)) return false;
    if (principal === undefined) return true;
    this.quotas.countPrincipal(this.kind, principal);
    this.principal = principal;
    return true;
  }

  /** Gives the hold back (once; later calls do nothing). */
  release(): void {
    const { address, principal } = this;
    this.address = undefined;
    this.principal = undefined;
    this.quotas.give(this.kind, address, principal);
  }
}

/** Counts one more `kind` under `key` in `table`. */
function count(table: Map<string, QuotaCounts>, key: string | undefined, kind: QuotaKind): void {
  if (key === undefined) return;
  let counts = table.get(key);
  if (counts === undefined) table.set(key, (counts = zero()));
  counts[kind]++;
}

/** Gives back one `kind` counted under `key`; the key goes with its last hold. */
function give(table: Map<string, QuotaCounts>, key: string, kind: QuotaKind): void {
  const counts = table.get(key);
  if (counts === undefined) return;
  counts[kind]--;
  if (counts.connections + counts.streams + counts.polls + counts.requests === 0) table.delete(key);
}
