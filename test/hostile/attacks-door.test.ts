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

  it('cross-origin: a foreign page with the victim cookie is answered, and nobody else is disturbed', async () => {
    const o = await underAttack('cross-origin');
    expect((o.tally['sse-200'] ?? 0) + (o.tally['sse-403'] ?? 0) + (o.tally['sse-401'] ?? 0)).toBeGreaterThan(0);
    expectUnharmed(o);
  });

  it('connection-flood: WebSockets, SSE streams and polls from one address, held open, do not cost the others', async () => {
    const o = await underAttack('connection-flood');
    expect(o.tally['ws-open-max'] ?? 0).toBeGreaterThan(0);
    expectUnharmed(o);
  });

  it('login-flood: failed logins as fast as they are answered get 4401 / 401, and the others carry on', async () => {
    const o = await underAttack('login-flood');
    expect(o.tally['ws-close-4401']).toBeGreaterThan(0);
    expect(o.tally['ws-failed'] ?? 0).toBe(0);
    expectUnharmed(o);
  });

  it('every attack of the long run has a short test here or in attacks-memory.test.ts', () => {
    expect([...ATTACK_NAMES].sort()).toEqual(
      ['relay-flood', 'nested-frames', 'under-rate', 'stale-poll', 'stale-sse', 'unread-replays', 'slow-subscribers', 'cross-origin', 'connection-flood', 'login-flood'].sort(),
    );
  });
});
