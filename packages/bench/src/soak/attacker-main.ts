/**
 * The attacker's process: runs one attack of `attacks.ts` for a bounded time
 * and answers its tally. Its CPU is its own, not the server's.
 */
import { serve } from '../ipc.js';
import { attackNamed, type AttackSize, type AttackTarget } from './attacks.js';
import type { AttackResult, AttackTally } from './types.js';

serve({
  async run(args: { name: string; target: AttackTarget; seconds: number; size: AttackSize }): Promise<AttackResult> {
    const tally: AttackTally = {};
    const started = performance.now();
    await attackNamed(args.name).run(args.target, Date.now() + args.seconds * 1000, args.size, tally);
    return { name: args.name, seconds: (performance.now() - started) / 1000, tally };
  },
});
