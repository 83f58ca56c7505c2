/**
 * A real redis-server for tests: started on a free loopback port with no
 * persistence (`--save '' --appendonly no`), stopped when the test file ends
 * (or earlier, to drill an outage). Never assumes a Redis is running;
 * `scripts/ensure-redis.mjs` installs Debian's redis-server when missing.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { freePort, launchRedis, stopRedis } from '../../packages/bench/src/redis-process.js';
import { sleep } from './wait.js';

export { freePort };

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

/** Spawns redis-server (the bench's launcher) and tracks it until it exits. */
async function launch(port: number): Promise<ChildProcess> {
  const child = await launchRedis(port);
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function kill(child: ChildProcess, abrupt: boolean): Promise<void> {
  await stopRedis(child, abrupt);
  running.delete(child);
}
