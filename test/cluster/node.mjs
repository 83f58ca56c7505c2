// One rxmux node in its own process, for the multi-node tests: a server on
// 127.0.0.1 (port 0) on the Redis engine, driven by its parent over IPC.
// Runs the built packages (npm test builds first). Plain JavaScript: Node 20
// runs it as is.
import { createServer } from '@rxmux/server';
import { redis } from '@rxmux/redis';

const { url, prefix, leaseMs, name } = JSON.parse(process.argv[2] ?? '{}');
const limits = { ratePerSecond: 1e7, rateBurst: 1e7, sessionTtlMs: 30_000, historySize: 20_000 };
const send = (message) => process.send?.(message);

/** Message payloads the 'svc' handler ran, with how often. */
const handled = new Map();
let errors = 0;

const server = createServer({
  host: '127.0.0.1',
  port: 0,
  limits,
  heartbeat: { interval: 1_000, timeout: 3_000 },
  ...redis({ url, prefix, leaseMs, limits, takeoverMs: 2_000, nodeId: name }),
  hooks: {
    onEngineStatus: (status) => send({ type: 'status', status }),
    onError: () => void errors++,
  },
});
server.handle('svc', {
  onMessage: (_ctx, data) => void handled.set(JSON.stringify(data), (handled.get(JSON.stringify(data)) ?? 0) + 1),
  onRequest: (_ctx, data) => data,
});

await server.ready();
send({ type: 'ready', port: server.port });

process.on('message', async (message) => {
  const reply = (body) => send({ type: 'reply', id: message.id, ...body });
  switch (message.type) {
    case 'publish': {
      let failed = 0;
      const codes = new Set();
      for (let i = 1; i <= message.count; i++) {
        try {
          await server.publish(message.channel, { node: name, i });
        } catch (error) {
          failed++;
          codes.add(error?.code ?? String(error));
        }
      }
      return reply({ failed, codes: [...codes] });
    }
    case 'handled':
      return reply({ handled: Object.fromEntries(handled) });
    case 'metrics':
      return reply({ metrics: server.metrics(), errors });
    case 'presence':
      return reply({ members: (await server.presence(message.channel)).map((m) => m.session) });
    case 'close':
      await server.close();
      reply({});
      return process.exit(0);
    default:
      return reply({ error: `unknown ${message.type}` });
  }
});
