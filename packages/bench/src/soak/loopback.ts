/**
 * Loopback addresses and file descriptors for runs that open thousands of
 * sockets on one machine.
 *
 * Every process here talks to 127.0.0.1, but a server that caps connections
 * per address must see the attacker and the legitimate clients as different
 * addresses, as it would on the internet. Linux routes all of 127.0.0.0/8 to
 * the loopback interface, so a client binds its side of each socket to its
 * own address (`localAddress`): the attacker is 127.66.0.1, legitimate
 * clients 127.1.x.y, spread over as many addresses as the run asks.
 */
import { execFileSync } from 'node:child_process';
import type { WebSocketConstructor } from '@rxmux/core';
import { WebSocket, type ClientOptions } from 'ws';

/** The attacker's address (one address: the "single-address attack"). */
export const ATTACKER_ADDRESS = '127.66.0.1';

/** The `i`-th legitimate client's address when `perAddress` clients share one: 127.1.0.1, 127.1.0.2, … */
export function clientAddress(i: number, perAddress: number): string {
  const k = Math.floor(i / Math.max(1, perAddress)) + 1;
  return `127.1.${(k >> 8) & 0xff}.${k & 0xff}`;
}

/**
 * A WebSocket constructor for `@rxmux/core`'s `connect()` whose sockets leave
 * from `localAddress` (and carry `headers`, e.g. a Cookie or an Origin).
 */
export function boundWebSocket(localAddress: string, headers?: Readonly<Record<string, string>>): WebSocketConstructor {
  const options: ClientOptions = { localAddress, perMessageDeflate: false, ...(headers === undefined ? {} : { headers: { ...headers } }) };
  return class BoundWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, options);
    }
  };
}

/** The soft and hard limits on open files of processes started from this one (`ulimit -n`, `ulimit -Hn`). */
export function fileLimits(): { readonly soft: number; readonly hard: number } {
  const read = (flag: string): number => {
    try {
      const out = execFileSync('sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
      return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
    } catch {
      return Number.NaN;
    }
  };
  return { soft: read('-n'), hard: read('-Hn') };
}

/**
 * Checks that a process can hold `sockets` sockets (plus a margin for files,
 * pipes and listeners). Returns the command wrapper that raises the soft
 * limit for a child process when only the hard limit allows it (Node cannot
 * raise its own), `[]` when nothing is needed; throws a clear error when even
 * the hard limit is too low.
 */
export function descriptorWrapper(sockets: number): readonly string[] {
  const need = sockets + 256;
  const { soft, hard } = fileLimits();
  if (Number.isNaN(soft) || soft >= need) return [];
  if (hard >= need) return ['sh', '-c', `ulimit -n ${need} && exec "$0" "$@"`];
  throw new Error(
    `this run holds ${sockets} sockets in one process and needs about ${need} file descriptors, but 'ulimit -n' is ${soft} (hard limit ${hard}). ` +
      `Raise it (e.g. 'ulimit -n ${need}' as root, or LimitNOFILE in systemd) or run with fewer connections (--connections ${Math.max(1, hard - 256)}).`,
  );
}
