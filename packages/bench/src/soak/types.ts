/**
 * What the soak, attack and fuzz orchestrators and their child processes
 * exchange over IPC (plain JSON).
 */
import type { Limits, ServerMetrics } from '@rxmux/server';
import type { DeliveryReport } from './feed.js';

/** How the target server is set up. Everything not given is the server's default. */
export interface TargetOptions {
  /** Limits to change; the rest are `DEFAULT_LIMITS`. */
  readonly limits?: Partial<Limits>;
  /** Passed to `createServer` as is (unset: the server's default policy). */
  readonly allowedOrigins?: readonly string[];
  /**
   * With `authenticate`: a token `legit-…` or `attacker` (in the hello, or
   * wherever `extractToken` finds one) is a user, anything else is refused.
   * Without: every client is admitted.
   */
  readonly auth?: boolean;
  /** Heartbeat timing (default: the server's). */
  readonly heartbeat?: { readonly interval?: number; readonly timeout?: number };
  /** Sample the event-loop delay with this resolution, ms (default 10). */
  readonly eldResolutionMs?: number;
}

/** What `start` answers. */
export interface TargetStarted {
  readonly port: number;
  readonly pid: number;
  /** The limits in force (defaults merged). */
  readonly limits: Limits;
}

/** One memory sample of the server process. */
export interface MemorySample {
  /** Seconds since the server started. */
  readonly t: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

/** The server's own view of a measurement window (from `arm` to `report`). */
export interface TargetReport {
  readonly seconds: number;
  /** Event-loop delay (`monitorEventLoopDelay`: how late its timer ran, beyond its period), ms. */
  readonly eld: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Largest RSS and heap seen (sampled every 100 ms), bytes. */
  readonly rssMax: number;
  readonly heapMax: number;
  /** One sample per second of the window. */
  readonly samples: readonly MemorySample[];
  /** CPU time of the server process in the window, ms. */
  readonly cpuMs: number;
  readonly metrics: ServerMetrics;
  /** `hooks.onError` calls in the window, and the first few messages. */
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** The same errors counted by kind (`name: code`, or `name: message` for errors without a code). */
  readonly errorKinds: Readonly<Record<string, number>>;
  /** Close codes the server chose (`hooks.onClose`), counted by code. */
  readonly closes: Readonly<Record<string, number>>;
  readonly slowConsumers: number;
  readonly rateLimited: number;
}

/** What the clients' process reports for a window: the delivery figures, clients that ended `failed`, its own CPU time (ms). */
export type ClientsReport = DeliveryReport & { readonly failed: number; readonly cpuMs: number };

/** Counted outcomes of an attack (what the attacker saw), by name. */
export type AttackTally = Record<string, number>;

/** What the attacker process reports for one attack run. */
export interface AttackResult {
  readonly name: string;
  readonly seconds: number;
  readonly tally: AttackTally;
}

/** The server's metrics, re-exported for the IPC shapes. */
export type { ServerMetrics };
