/**
 * `npm start` serves the demo on 127.0.0.1 unless `HOST` says otherwise: its
 * chaos endpoints (drop every connection, pause the streams) have no
 * authentication. Checked on the real process, by connecting to it over
 * loopback and over this machine's LAN address (when it has one).
 */
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDemoServer, DemoProcess } from './support.js';

/** An IPv4 address of this machine other than loopback, if it has one. */
const lan = Object.values(networkInterfaces())
  .flat()
  .find((i) => i?.family === 'IPv4' && !i.internal)?.address;

/** Whether a TCP connection to `host:port` is accepted (a refusal comes back at once: nothing to wait for). */
const accepts = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

beforeAll(buildDemoServer, 60_000);

describe('where the demo listens', () => {
  it('on 127.0.0.1 by default: reachable from this machine only', async () => {
    const demo = await DemoProcess.start(0, 15_000, null);
    try {
      expect(new URL(demo.url).hostname).toBe('127.0.0.1');
      expect(await accepts('127.0.0.1', demo.port)).toBe(true);
      if (lan !== undefined) expect(await accepts(lan, demo.port)).toBe(false);
    } finally {
      await demo.kill();
    }
  });

  it('on every interface with HOST=0.0.0.0', async () => {
    const demo = await DemoProcess.start(0, 15_000, '0.0.0.0');
    try {
      expect(demo.url).toBe(`http://localhost:${demo.port}/`);
      expect(await accepts('127.0.0.1', demo.port)).toBe(true);
      if (lan !== undefined) expect(await accepts(lan, demo.port)).toBe(true);
    } finally {
      await demo.kill();
    }
  });
});
