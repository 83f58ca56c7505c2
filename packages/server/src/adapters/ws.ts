/**
 * The thin `ws` adapter: turns a `ws` WebSocket into a {@link Transport} and
 * feeds its events to a {@link Session}. Nothing protocol-specific lives here.
 */
import { CloseCode } from '@rxmux/core/protocol';
import type { RawData, WebSocket } from 'ws';
import type { Session, Transport } from '../session.js';

// Shared send options: a write to every recipient of a publish must not allocate.
const TEXT = Object.freeze({ binary: false });
const BINARY = Object.freeze({ binary: true });

/** A `ws` socket as a session transport (methods on the prototype: no closures per connection). */
class WsTransport implements Transport {
  constructor(private readonly ws: WebSocket) {}

  send(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, binary ? BINARY : TEXT);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  ping(): void {
    this.ws.ping();
  }
}

/** Wraps a `ws` socket as a session transport. */
export function wsTransport(ws: WebSocket): Transport {
  return new WsTransport(ws);
}

function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/**
 * Routes a socket's events to its session. Text arrives already UTF-8
 * validated by `ws` (invalid UTF-8 closes with 1007 before reaching us) and
 * oversized messages are refused by `maxPayload` (close 1009).
 */
export function bindSession<P>(ws: WebSocket, session: Session<P>, onError: (error: unknown) => void): void {
  ws.on('message', (data: RawData, isBinary: boolean) => {
    try {
      const bytes = bytesOf(data);
      session.receive(isBinary ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), Date.now());
    } catch (error) {
      // A bug of ours must cost this connection at most, never the process.
      onError(error);
      session.close(CloseCode.InternalError, 'internal error');
    }
  });
  ws.on('pong', () => session.touch(Date.now()));
  ws.on('error', onError);
  ws.on('close', (code: number, reason: Buffer) => session.closed(code, reason.toString('utf8')));
}
