/**
 * A long task blocks the client's event loop past the heartbeat window while
 * the server keeps talking. The frames are already in the socket when the
 * loop wakes up; the watchdog must look at them before declaring the link dead.
 */
import { firstValueFrom, filter } from 'rxjs';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, expect, it } from 'vitest';
import { connect, type Connection } from '@rxmux/core';
import { decode, encodeText, SUBPROTOCOL } from '@rxmux/core/protocol';

let wss: WebSocketServer | undefined;
let conn: Connection | undefined;
afterEach(async () => {
  conn?.close();
  await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
});

it('a blocked event loop longer than the heartbeat window is not mistaken for a dead link', async () => {
  // A raw ws server: its send() writes to the socket at once, so the frame is on the wire during the block.
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => SUBPROTOCOL });
  const sockets: import('ws').WebSocket[] = [];
  wss.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data: Buffer, isBinary) => {
      for (const frame of decode(isBinary ? data : data.toString('utf8')).frames) {
        if (frame.type === 'hello') socket.send(encodeText({ type: 'welcome', version: 1, session: 's', heartbeat: 0 }));
        if (frame.type === 'ping') socket.send(encodeText({ type: 'pong', ...(frame.t === undefined ? {} : { t: frame.t }) }));
      }
    });
  });
  await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
  const port = (wss.address() as { port: number }).port;
  conn = connect(`ws://127.0.0.1:${port}/rt`, { WebSocket, shared: false, heartbeat: { interval: 150, timeout: 150 } });
  const statuses: string[] = [];
  conn.status$.subscribe((s) => statuses.push(s));
  const sub = conn.channel('a').subscribe();
  await firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));
  for (let round = 0; round < 2; round++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    sockets.at(-1)!.send(encodeText({ type: 'publication', channel: 'a', data: round }));
    const until = Date.now() + 700; // a long task: more than two heartbeat windows (300 ms)
    while (Date.now() < until) {
      // busy
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(statuses).toEqual(['closed', 'connecting', 'open']); // without the grace turn: a reconnect per round
  expect(sockets).toHaveLength(1);
  sub.unsubscribe();
});
