import { createServer as createHttpServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createServer } from '@rxmux/server';
import { connect, sleep, start } from './helpers.js';

describe('graceful shutdown', () => {
  it('drains queued frames, closes clients with 1001, and they reconnect to a new server', async () => {
    const closes: number[] = [];
    const first = await start({ hooks: { onClose: (_info, code) => void closes.push(code) } });
    const a = await first.client();
    const b = await first.client();
    for (const c of [a, b]) {
      c.send({ type: 'subscribe', channel: 'news' });
      await c.waitFor('subscribed');
    }
    // Queued in this very turn, before close(): must still reach the clients.
    void first.server.publish('news', 'last words');
    const closing = first.server.close();
    for (const c of [a, b]) {
      expect(await c.waitForFrame((f) => f.type === 'publication')).toMatchObject({ data: 'last words' });
      expect(await c.waitForClose()).toEqual({ code: 1001, reason: 'going away' });
    }
    await closing;
    expect(closes).toEqual([1001, 1001]);
    await expect(connect(first.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' }); // stopped accepting: its own HTTP server is closed
    await first.server.close(); // idempotent

    const second = await start();
    const again = await connect(second.url);
    await again.hello();
    again.send({ type: 'subscribe', channel: 'news' });
    await again.waitFor('subscribed');
    void second.server.publish('news', 'hello again');
    expect(await again.waitForFrame((f) => f.type === 'publication')).toMatchObject({ data: 'hello again' });
  });

  it('ends SSE streams and held polls, and leaves an attached HTTP server running', async () => {
    const http = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('app');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const server = createServer({ server: http });
    await server.ready();
    const base = `http://127.0.0.1:${server.port}`;
    const held = fetch(`${base}/rt/poll?channel=a`).then((r) => r.json() as Promise<{ events: unknown[] }>);
    const stream = await fetch(`${base}/rt/sse?channel=a`);
    const reader = stream.body?.getReader();
    for (let i = 0; i < 50 && server.metrics().polls + server.metrics().streams < 2; i++) await sleep(10);
    expect(server.metrics()).toMatchObject({ polls: 1, streams: 1 });
    await server.close();
    expect(await held).toMatchObject({ events: [] });
    let ended = false;
    for (let i = 0; i < 20 && !ended; i++) ended = (await reader?.read())?.done ?? true;
    expect(ended).toBe(true);
    expect(await (await fetch(`${base}/`)).text()).toBe('app'); // the app's own server keeps serving
    const rt = await fetch(`${base}/rt/sse?channel=a`);
    expect(await rt.text()).toBe('app'); // rxmux detached: the app's handler gets its path back
    await new Promise((resolve) => http.close(resolve));
  });
});
