/**
 * Real servers and real clients for tests, on 127.0.0.1 and port 0, closed
 * after each test: the one set of factories the client, delivery and browser
 * tests share (the raw protocol client lives in `test/server/tclient.ts`).
 */
import { filter, firstValueFrom } from 'rxjs';
import { WebSocket } from 'ws';
import { afterEach } from 'vitest';
import { connect, type Connection, type ConnectionStatus, type ConnectOptions } from '@rxmux/core';
import { createServer, type RxmuxServer, type ServerOptions } from '@rxmux/server';

const servers = new Set<RxmuxServer<unknown>>();
const conns: Connection[] = [];

afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await Promise.all([...servers].map((s) => s.close()));
  servers.clear();
});

/** A real server on 127.0.0.1, port 0, closed after the test (or earlier with {@link stop}). */
export async function serve(options: ServerOptions = {}): Promise<RxmuxServer> {
  const server = createServer({ host: '127.0.0.1', port: 0, ...options });
  servers.add(server);
  await server.ready();
  return server;
}

/** Closes a server before the end of the test (a process restart). */
export async function stop(server: RxmuxServer): Promise<void> {
  servers.delete(server);
  await server.close();
}

/** The WebSocket URL of a server (or of a proxy in front of it) listening on `port`. */
export const wsUrl = (port: number): string => `ws://127.0.0.1:${port}/rt`;

/** The real client (with `ws` as its WebSocket, not pooled), closed after the test. */
export function client(url: string, options: ConnectOptions = {}): Connection {
  const conn = connect(url, { WebSocket, shared: false, ...options });
  conns.push(conn);
  return conn;
}

/** Resolves once the connection's status is `status` (now or later). */
export const reaches = (conn: Connection, status: ConnectionStatus): Promise<unknown> => firstValueFrom(conn.status$.pipe(filter((s) => s === status)));

/** Resolves once the connection is open (now or later). */
export const opened = (conn: Connection): Promise<unknown> => reaches(conn, 'open');
