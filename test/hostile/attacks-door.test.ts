/**
 * Issue 14's attacks at the door and on the CPU, short (a few seconds each,
 * in process), run by the same code as `npm run soak -- --attacks`: ten
 * legitimate clients on a 50 msg/s feed lose nothing and keep their
 * connection while one address floods, fakes an Origin, or fails to log in.
 */
import { describe, expect, it } from 'vitest';
import { ATTACK_NAMES, expectUnharmed, underAttack } from './attacks-stage.js';

describe('hostile clients, short: CPU and the door', () => {
  it('under-rate: 1 MiB frames dear to parse, paced just under the rate limit, are answered and never close the sender', async () => {
    const o = await underAttack('under-rate');
    expect(o.tally.frames).toBeGreaterThan(0);
    expect(o.tally['error-RXMUX_ERR_NO_HANDLER']).toBe(o.tally.frames);
    expect(o.end.rateLimited).toBe(0);
    expectUnharmed(o);
  });

  it('cross-origin: a foreign page with the victim cookie is refused everywhere (WebSocket 4403, SSE and poll 403, no CORS)', async () => {
    const o = await underAttack('cross-origin');
    const t = o.tally;
    expect(t['ws-closed-4403']).toBeGreaterThan(0);
    expect(t['sse-403']).toBe(t['ws-closed-4403']);
    expect(t['poll-403']).toBe(t['ws-closed-4403']);
    expect({ ws: t['ws-accepted'], sse: t['sse-200'], poll: t['poll-200'], cors: (t['sse-cors-reflected'] ?? 0) + (t['poll-cors-reflected'] ?? 0) }).toEqual({ ws: undefined, sse: undefined, poll: undefined, cors: 0 });
    expectUnharmed(o);
  });

  it('connection-flood: one address (one principal) holds at most its caps of WebSockets, SSE streams and polls; the rest is refused', async () => {
    const o = await underAttack('connection-flood');
    const { limits } = o.target;
    // Welcomed sockets count against the principal; sockets still saying hello against the address only.
    expect(o.tally['ws-open-max']).toBeGreaterThan(0);
    expect(o.tally['ws-open-max']).toBeLessThanOrEqual(limits.maxConnectionsPerPrincipal);
    expect(o.attacker.connections).toBeLessThanOrEqual(limits.maxConnectionsPerAddress);
    expect(o.attacker.streams).toBeLessThanOrEqual(limits.maxStreamsPerAddress);
    expect(o.attacker.polls).toBeLessThanOrEqual(limits.maxPollsPerAddress);
    expect(o.end.capped).toBeGreaterThan(0);
    expect(o.tally['close-1013']).toBeGreaterThan(0); // refused sockets: TOO_MANY_CONNECTIONS, retry later
    expectUnharmed(o);
  });

  it('login-flood: failed logins are throttled per address (close 1013, HTTP 429) after authFailureBurst, and the others carry on', async () => {
    const o = await underAttack('login-flood');
    const t = o.tally;
    expect(t['ws-close-4401']).toBeGreaterThan(0);
    expect(t['ws-close-4401'] ?? 0).toBeLessThanOrEqual(o.target.limits.authFailureBurst + 5); // the burst, and what a few seconds earn back
    expect(t['ws-close-1013']).toBeGreaterThan(0);
    expect((t['sse-429'] ?? 0) + (t['poll-429'] ?? 0)).toBeGreaterThan(0);
    expect(o.end.authThrottled).toBeGreaterThan(0);
    expect(t['ws-failed'] ?? 0).toBe(0);
    expectUnharmed(o);
  });

  it('every attack of the long run has a short test here or in attacks-memory.test.ts', () => {
    expect([...ATTACK_NAMES].sort()).toEqual(
      ['relay-flood', 'nested-frames', 'under-rate', 'stale-poll', 'stale-sse', 'unread-replays', 'slow-subscribers', 'cross-origin', 'connection-flood', 'login-flood'].sort(),
    );
  });
});
