/**
 * The app's lifecycle hooks, called so that a throwing hook never breaks the
 * server: its error goes to `onError`, and a throwing `onError` is swallowed
 * (it has nowhere left to report to).
 */
import type { EngineStatus } from '../engines/engine.js';
import type { ConnectionInfo, ServerHooks } from '../types.js';

type Notice = 'onConnect' | 'onClose' | 'onSlowConsumer' | 'onRateLimited';

/** Calls `hooks` safely. @internal */
export class Hooks<P> {
  constructor(private readonly hooks: ServerHooks<P> | undefined) {}

  /** Reports an error to `onError` (`info` absent for server-wide errors). */
  error(error: unknown, info?: ConnectionInfo<P>): void {
    try {
      this.hooks?.onError?.(error, info);
    } catch {
      // a throwing error hook has nowhere left to report to
    }
  }

  /** The engine's status changed (`error`: why it went down). */
  engineStatus(status: EngineStatus, error: unknown): void {
    try {
      this.hooks?.onEngineStatus?.(status, error);
    } catch (hookError) {
      this.error(hookError);
    }
  }

  /** Calls a lifecycle hook, if the app set it. */
  notify<K extends Notice>(name: K, ...args: Parameters<NonNullable<ServerHooks<P>[K]>>): void {
    const hook = this.hooks?.[name] as ((...a: typeof args) => void) | undefined;
    if (hook === undefined) return;
    try {
      hook(...args);
    } catch (error) {
      this.error(error);
    }
  }
}
