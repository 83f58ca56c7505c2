/**
 * `npm start`: the demo in one process. `PORT` (default 5173, 0 for any free
 * port) and `HOST` (default `127.0.0.1`: this machine only, since the chaos
 * endpoints are unauthenticated; `0.0.0.0` for every interface) choose where
 * it listens.
 */
import { startDemoServer } from './demo-server.js';

const port = Number(process.env.PORT ?? 5173);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`[rxmux demo] PORT must be a port number, got ${process.env.PORT}`);
  process.exit(1);
}

try {
  const demo = await startDemoServer({ port, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
  console.log(`[rxmux demo] listening on ${demo.url}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1); // a second Ctrl-C does not wait
    stopping = true;
    demo.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (error) {
  const code = (error as { code?: unknown }).code;
  console.error(
    code === 'EADDRINUSE'
      ? `[rxmux demo] port ${port} is in use: try PORT=0 npm start (any free port) or PORT=8080 npm start`
      : `[rxmux demo] could not start: ${String(error)}`,
  );
  process.exit(1);
}
