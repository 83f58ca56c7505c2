/**
 * rxmux nodes as separate Node processes (`node.mjs`) on one Redis, driven
 * over IPC: what the multi-node tests start, kill and ask.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./node.mjs', import.meta.url));

interface Reply {
  readonly type: 'reply';
  readonly id: number;
  readonly [key: string]: unknown;
}
type FromNode = { readonly type: 'ready'; readonly port: number } | { readonly type: 'status'; readonly status: 'up' | 'down' } | Reply;

/** One node process. */
export interface NodeProcess {
  readonly name: string;
  readonly port: number;
  /** The engine statuses it reported, in order. */
  readonly statuses: readonly string[];
  /** Whether the process is still running. */
  readonly alive: boolean;
  /** Asks the node (`publish`, `handled`, `metrics`, `presence`, `close`) and waits for its reply (bounded). */
  ask<T = Record<string, unknown>>(type: string, body?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Kills the process at once (SIGKILL): nothing is let go. */
  kill(): Promise<void>;
}

const children = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...children].map((child) => killChild(child)));
});

/** Starts a node process on Redis `url` under `prefix`; resolves once it listens and its engine started. */
export function startNode(options: { readonly url: string; readonly prefix: string; readonly name: string; readonly leaseMs?: number }): Promise<NodeProcess> {
  const child = fork(SCRIPT, [JSON.stringify({ leaseMs: 1_500, ...options })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const statuses: string[] = [];
  const waiting = new Map<number, (reply: Reply) => void>();
  let next = 0;
  let exited = false;
  child.on('exit', () => {
    exited = true;
    children.delete(child);
  });
  return new Promise<NodeProcess>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node ${options.name} did not start`)), 20_000);
    child.once('exit', (code) => reject(new Error(`node ${options.name} exited with ${String(code)} before it was ready`)));
    child.on('message', (message: FromNode) => {
      if (message.type === 'status') statuses.push(message.status);
      else if (message.type === 'reply') waiting.get(message.id)?.(message);
      else {
        clearTimeout(timer);
        resolve({
          name: options.name,
          port: message.port,
          statuses,
          get alive() {
            return !exited;
          },
          ask<T>(type: string, body: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
            const id = ++next;
            return new Promise<T>((done, fail) => {
              const timeout = setTimeout(() => fail(new Error(`node ${options.name} did not answer ${type}`)), timeoutMs);
              waiting.set(id, (reply) => {
                clearTimeout(timeout);
                waiting.delete(id);
                done(reply as T);
              });
              child.send({ type, id, ...body });
            });
          },
          kill: () => killChild(child),
        });
      }
    });
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}
