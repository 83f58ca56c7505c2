/**
 * The conformance suite against the Redis engine and stores: every test gets
 * fresh nodes on its own key prefix of one redis-server started for this file.
 */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { redis, type RedisEngine } from '@rxmux/redis';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { engineConformance, RecordingSink, type EngineNode, type User } from './suite.js';

const LEASE_MS = 900;
let server: RedisProcess;
let prefixes = 0;
const started: RedisEngine<User>[] = [];
/** The Redis engine behind each node the harness handed out. */
const engines = new Map<EngineNode, RedisEngine<User>>();

beforeAll(async () => {
  server = await startRedis();
});

afterAll(async () => {
  await Promise.allSettled(started.map((engine) => engine.close()));
});

engineConformance('redis', {
  multiNode: true,
  leaseMs: LEASE_MS,
  async nodes(count, bounds) {
    const prefix = `conf${String(++prefixes)}`;
    return Promise.all(
      Array.from({ length: count }, async (): Promise<EngineNode> => {
        const { engine, sessions, tickets } = redis<User>({ url: server.url, prefix, leaseMs: LEASE_MS, limits: bounds, takeoverMs: 2000 });
        const sink = new RecordingSink();
        await engine.start(sink);
        started.push(engine);
        const node: EngineNode = { engine, sink, sessions, tickets };
        engines.set(node, engine);
        return node;
      }),
    );
  },
  crash(node) {
    engines.get(node)?.terminate();
  },
  async disrupt() {
    // Kill the node's subscriber connection: ioredis reconnects, the engine re-subscribes and resets.
    const admin = new Redis(server.url);
    try {
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
  },
});
