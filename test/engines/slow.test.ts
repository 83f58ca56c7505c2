/**
 * The conformance suite against a deliberately slow engine: the memory engine
 * with random delays on every call and delivery (seeded: the seed is in the
 * test name, so a failure replays with the same delays).
 */
import { DEFAULT_LIMITS, MemorySessionStore, MemoryTicketStore } from '@rxmux/server';
import { SlowEngine } from './slow-engine.js';
import { engineConformance, RecordingSink, type EngineNode, type User } from './suite.js';

const seed = Number(process.env.RXMUX_SEED ?? 0x5eed);
const engines = new Map<EngineNode, SlowEngine<User>>();

engineConformance(`slow asynchronous memory engine (seed ${seed.toString(16)})`, {
  multiNode: false,
  async nodes(count, bounds) {
    const engine = new SlowEngine<User>(bounds, seed);
    const sink = new RecordingSink();
    await engine.start(sink);
    const node: EngineNode = { engine, sink, sessions: new MemorySessionStore<User>({ ...DEFAULT_LIMITS, ...bounds }), tickets: new MemoryTicketStore<User>() };
    engines.set(node, engine);
    return Array.from({ length: count }, () => node);
  },
  disrupt(node) {
    engines.get(node)?.lose(3);
    return Promise.resolve();
  },
});
