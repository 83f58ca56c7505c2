/** The conformance suite against the memory engine and stores (one process: one node). */
import { DEFAULT_LIMITS, MemoryEngine, MemorySessionStore, MemoryTicketStore } from '@rxmux/server';
import { engineConformance, RecordingSink, type EngineNode, type User } from './suite.js';

engineConformance('memory', {
  multiNode: false,
  nodes(count, bounds) {
    const engine = new MemoryEngine<User>(bounds);
    const sink = new RecordingSink();
    engine.start(sink);
    const node: EngineNode = { engine, sink, sessions: new MemorySessionStore<User>({ ...DEFAULT_LIMITS, ...bounds }), tickets: new MemoryTicketStore<User>() };
    return Promise.resolve(Array.from({ length: count }, () => node));
  },
});
