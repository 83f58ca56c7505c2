/**
 * A real redis-server for tests: started on a free loopback port with no
 * persistence (`--save '' --appendonly no`), stopped when the test file ends
 * (or earlier, to drill an outage). Never assumes a Redis is running;
 * `scripts/ensure-redis.mjs` installs Debian's redis-server when missing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll } from 'vitest';
import { sleep } from './wait.js';

const BINARY = process.env.RXMUX_REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL when `abrupt`): its data is gone, as after a crash. */
  stop(abrupt?: boolean): Promise<void>;
  /** Starts it again on the same port (empty). */
  restart(): Promise<void>;
}

const running = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...running].map((child) => kill(child, false)));
});

/** A free TCP port on 127.0.0.1 (the OS picks it; a short race with other processes is retried by the caller). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts a redis-server on a free port; stopped after the test file. */
export async function startRedis(): Promise<RedisProcess> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    let child: ChildProcess;
    try {
      child = await launch(port);
    } catch (error) {
      if (attempt < 4) continue; // the port was taken meanwhile
      throw error;
    }
    const handle: RedisProcess = {
      port,
      url: `redis://127.0.0.1:${port}`,
      async stop(abrupt = false) {
        await kill(child, abrupt);
      },
      async restart() {
        for (let i = 0; ; i++) {
          try {
            child = await launch(port);
            return;
          } catch (error) {
            if (i >= 50) throw error;
            await sleep(50); // the old socket may linger a moment
          }
        }
      },
    };
    return handle;
  }
}

/** Spawns redis-server and resolves once it accepts connections. */
function launch(port: number): Promise<ChildProcess> {
  const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'notice'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  return new Promise<ChildProcess>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server on port ${port} did not start: ${output}`));
    }, 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      running.delete(child);
      clearTimeout(timer);
      reject(new Error(`redis-server on port ${port} exited with ${String(code)}: ${output}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

async function kill(child: ChildProcess, abrupt: boolean): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(abrupt ? 'SIGKILL' : 'SIGTERM');
  await exited;
  running.delete(child);
}
