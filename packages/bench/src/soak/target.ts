/**
 * The server every reliability run aims at, set up once for the soak, the
 * attacks, the fuzz (each in a process of its own, `server-main.ts`) and the
 * short hostile tests (in process): rxmux on 127.0.0.1 with the README's
 * handlers and, when asked, `authenticate`.
 *
 * | channel | handler |
 * | --- | --- |
 * | `relay-*` | `onMessage` republishes what it gets (the README's relay) |
 * | `echo` | `onRequest` answers with the request's data |
 * | `fail` | `onMessage` and `onRequest` always throw |
 * | `deny-*` | `authorize` refuses subscribing, sending and requesting |
 * | anything else | no handler: subscribing works, sending gets `NO_HANDLER` |
 */
import { createServer, DEFAULT_LIMITS, extractToken, type Limits, type RxmuxServer, type ServerHooks } from '@rxmux/server';
import type { TargetOptions } from './types.js';

/** Who a token is: `legit-…` and `attacker` are users of the app; anything else is refused. */
export interface User {
  readonly user: string;
}

/** A user for `legit-…` and `attacker` tokens (from the hello, or from the request: header, subprotocol, cookie). */
export function userOf(token: string | undefined): User | null {
  return token !== undefined && (token.startsWith('legit-') || token === 'attacker') ? { user: token } : null;
}

/** A started target server. */
export interface Target {
  readonly server: RxmuxServer<User> | RxmuxServer;
  readonly port: number;
  /** The limits in force (defaults merged). */
  readonly limits: Limits;
}

/** Starts the target server on 127.0.0.1, port 0, with `hooks`. */
export async function startTarget(options: TargetOptions, hooks: ServerHooks = {}): Promise<Target> {
  const common = {
    host: '127.0.0.1',
    port: 0,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.allowedOrigins === undefined ? {} : { allowedOrigins: options.allowedOrigins }),
    ...(options.heartbeat === undefined ? {} : { heartbeat: options.heartbeat }),
    hooks,
    authorize: (_principal: unknown, channel: string) => !channel.startsWith('deny-'),
  };
  const server: RxmuxServer<User> | RxmuxServer =
    options.auth === true ? createServer<User>({ ...common, authenticate: (req, token) => userOf(token ?? extractToken(req)) }) : createServer(common);
  server.handle('relay-*', { onMessage: (ctx, data) => ctx.publish(data) });
  server.handle('echo', { onRequest: (_ctx, data) => data });
  server.handle('fail', {
    onMessage: () => {
      throw new Error('this handler always fails');
    },
    onRequest: () => {
      throw new Error('this handler always fails');
    },
  });
  await server.ready();
  return { server, port: server.port, limits: { ...DEFAULT_LIMITS, ...options.limits } };
}
