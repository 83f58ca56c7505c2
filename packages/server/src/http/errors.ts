/**
 * HTTP refusals: the error codes of the door and the endpoints, and how a
 * refusal is written (a plain response before any WebSocket exists, or a JSON
 * body for SSE and long-poll requests).
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/** Why a request was refused: its HTTP status, a stable code and a message for humans. @internal */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Refuses an upgrade with a plain HTTP response, before any WebSocket exists. @internal */
export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

/** Ends an HTTP request with a JSON error body `{ code, message }` (or just ends it when the headers went out already). @internal */
export function refuseRequest(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}
