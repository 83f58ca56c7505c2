/**
 * A raw protocol test client (modelled on graphql-ws tests/utils/tclient.ts):
 * connects with `ws` and subprotocol rxmux.v1, queues every decoded frame and
 * lets a test wait for the frame (or close) it expects.
 */
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { decode, encode, SUBPROTOCOL, type Frame, type WelcomeFrame } from '@rxmux/core/protocol';

export interface TClient {
  readonly ws: WebSocket;
  /** Frames received and not yet taken by waitForFrame. */
  readonly queue: Frame[];
  /** Every raw message received (for batching assertions). */
  readonly raw: (string | Uint8Array)[];
  send(frame: Frame | string | Uint8Array): void;
  /** Sends hello and waits for welcome. */
  hello(): Promise<WelcomeFrame>;
  /** Takes the first queued frame matching `predicate`, waiting up to `timeout` ms for it. */
  waitForFrame<F extends Frame = Frame>(predicate: (frame: Frame) => boolean, timeout?: number): Promise<F>;
  /** Takes the next frame of type `type`. */
  waitFor<T extends Frame['type']>(type: T, timeout?: number): Promise<Extract<Frame, { type: T }>>;
  /** Waits `ms` and throws if a frame matching `predicate` is queued by then. */
  expectNoFrame(predicate: (frame: Frame) => boolean, ms?: number): Promise<void>;
  waitForClose(timeout?: number): Promise<{ code: number; reason: string }>;
  close(code?: number): void;
}

export interface TClientOptions extends ClientOptions {
  readonly protocols?: string[];
}

/** Connects to `url`; resolves once the socket is open (rejects on a refused upgrade). */
export function tclient(url: string, options: TClientOptions = {}): Promise<TClient> {
  const { protocols = [SUBPROTOCOL], ...wsOptions } = options;
  const ws = new WebSocket(url, protocols, wsOptions);
  const queue: Frame[] = [];
  const raw: (string | Uint8Array)[] = [];
  let notify: (() => void) | undefined;
  let closed: { code: number; reason: string } | undefined;
  const wake = (): void => {
    const n = notify;
    notify = undefined;
    n?.();
  };
  ws.on('message', (data: RawData, isBinary: boolean) => {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    const message = isBinary ? new Uint8Array(bytes) : bytes.toString('utf8');
    raw.push(message);
    queue.push(...decode(message, { maxFrameBytes: 64 * 1024 * 1024 }).frames);
    wake();
  });
  ws.on('close', (code: number, reason: Buffer) => {
    closed = { code, reason: reason.toString() };
    wake();
  });
  ws.on('error', () => wake());

  const until = async <T>(check: () => T | undefined, timeout: number, what: string): Promise<T> => {
    const deadline = Date.now() + timeout;
    for (;;) {
      const found = check();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeout} ms waiting for ${what}; queued: ${JSON.stringify(queue.map((f) => f.type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        notify = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };

  const client: TClient = {
    ws,
    queue,
    raw,
    send(frame) {
      ws.send(typeof frame === 'string' || frame instanceof Uint8Array ? frame : encode(frame));
    },
    async hello() {
      client.send({ type: 'hello', version: 1 });
      return client.waitFor('welcome');
    },
    waitForFrame<F extends Frame>(predicate: (frame: Frame) => boolean, timeout = 3000) {
      return until(() => {
        const i = queue.findIndex(predicate);
        return i === -1 ? undefined : (queue.splice(i, 1)[0] as F);
      }, timeout, 'a matching frame');
    },
    waitFor(type, timeout) {
      return client.waitForFrame((f) => f.type === type, timeout);
    },
    async expectNoFrame(predicate, ms = 150) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const found = queue.find(predicate);
      if (found !== undefined) throw new Error(`unexpected frame ${JSON.stringify(found)}`);
    },
    waitForClose(timeout = 3000) {
      return until(() => closed, timeout, 'close');
    },
    close(code = 1000) {
      ws.close(code);
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
}
