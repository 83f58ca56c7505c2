/**
 * A minimal request/response protocol over the `child_process` IPC channel:
 * the orchestrator calls named commands in a child and awaits their results,
 * each call bounded by a timeout that names what stalled.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { StallError } from './util.js';

interface CallMessage {
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

type ReplyMessage =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** The command table a child serves. */
export type Handlers = Record<string, (args: never) => unknown>;

/** In a child: answers the parent's calls with `handlers`, then announces readiness. */
export function serve(handlers: Handlers): void {
  process.on('message', (raw: unknown) => {
    const message = raw as CallMessage;
    const handler = handlers[message.cmd] as ((args: unknown) => unknown) | undefined;
    const reply = (m: ReplyMessage): void => {
      if (process.connected) process.send?.(m);
    };
    if (handler === undefined) {
      reply({ id: message.id, ok: false, error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => reply({ id: message.id, ok: true, result: result ?? null }),
        (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, ok: true, result: 'ready' } satisfies ReplyMessage);
}

/** Extra process options: node flags (`--cpu-prof`) and a wrapper command (`strace -c -f -o file`). */
export interface ChildOptions {
  readonly execArgv?: readonly string[];
  readonly wrapper?: readonly string[];
}

/** The parent's handle on one child process. */
export class Child {
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #exited: string | undefined;

  private constructor(proc: ChildProcess, readonly name: string) {
    this.#proc = proc;
    proc.on('message', (raw: unknown) => {
      const m = raw as ReplyMessage;
      const pending = this.#pending.get(m.id);
      if (pending === undefined) return;
      this.#pending.delete(m.id);
      if (m.ok) pending.resolve(m.result);
      else pending.reject(new Error(`${name}: ${m.error}`));
    });
    proc.on('exit', (code, signal) => {
      this.#exited = `${name} exited (code ${String(code)}, signal ${String(signal)})`;
      for (const p of this.#pending.values()) p.reject(new Error(this.#exited));
      this.#pending.clear();
    });
  }

  /** Why the child is gone (`name exited (code …, signal …)`), or `undefined` while it runs. */
  get exited(): string | undefined {
    return this.#exited;
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.#proc.pid;
  }

  /** Starts `file` (relative to this module's folder) and waits until it serves. */
  static async start(file: string, name: string, options: ChildOptions = {}, timeoutMs = 15_000): Promise<Child> {
    const path = fileURLToPath(new URL(file, import.meta.url));
    const execArgv = [...(options.execArgv ?? [])];
    const proc =
      options.wrapper !== undefined && options.wrapper.length > 0
        ? spawn(options.wrapper[0] as string, [...options.wrapper.slice(1), process.execPath, ...execArgv, path], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          })
        : fork(path, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const child = new Child(proc, name);
    const ready = new Promise<unknown>((resolve, reject) => child.#pending.set(0, { resolve, reject }));
    try {
      await child.#bounded(ready, timeoutMs, 'start');
    } catch (error) {
      child.kill();
      throw error;
    }
    return child;
  }

  /** Calls `cmd` in the child; rejects with a StallError naming the command after `timeoutMs`. */
  call<T>(cmd: string, args: unknown = {}, timeoutMs = 30_000): Promise<T> {
    if (this.#exited !== undefined) return Promise.reject(new Error(this.#exited));
    const id = this.#nextId++;
    const result = new Promise<unknown>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#proc.send({ id, cmd, args } satisfies CallMessage);
    return this.#bounded(result, timeoutMs, cmd) as Promise<T>;
  }

  async #bounded(promise: Promise<unknown>, timeoutMs: number, what: string): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new StallError(`${this.name}: "${what}" got no answer within ${(timeoutMs / 1000).toFixed(1)} s`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Asks the child to exit; kills it when it has not exited within `graceMs`. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.#exited !== undefined) return;
    const exited = new Promise<void>((resolve) => this.#proc.once('exit', () => resolve()));
    if (this.#proc.connected) this.#proc.disconnect();
    const timer = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the child at once (SIGKILL). */
  kill(): void {
    if (this.#exited === undefined) this.#proc.kill('SIGKILL');
  }
}
