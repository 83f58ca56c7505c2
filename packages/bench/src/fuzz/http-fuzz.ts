/**
 * The HTTP half of the server fuzz: SSE and long-poll requests with hostile
 * query strings, cursors and headers (PROTOCOL.md 14.1, 14.6, 14.7), and
 * malformed HTTP, made and sent; `http-model.ts` says what each must get.
 *
 * The fuzz server has `allowedOrigins: ['http://allowed.example']`, no
 * `authenticate`, and history on `hist-0` … `hist-3` (120 publications
 * each, so the 100 kept are seqs 21..120, one epoch each).
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { HistoryFacts, HttpAnswer, HttpCase } from './http-model.js';

const ORIGINS = [undefined, undefined, undefined, undefined, 'http://allowed.example', 'http://allowed.example', 'https://evil.example', 'null', 'http://allowed.example:80', 'HTTP://ALLOWED.EXAMPLE', 'x', ''];

/** Channel names a request may name: with history, without, refused, invalid, odd. */
const NAMES = ['hist-0', 'hist-1', 'hist-2', 'hist-3', 'empty-x', 'empty-y', 'deny-x', '$rxmux.ticket', '$rxmux.other', '', 'y'.repeat(256), 'a,b', 'ü', 'hist-0 ', 'HIST-0'];

/** A query parameter value, encoded, or raw junk (malformed escapes, a lone surrogate in UTF-8, separators). */
const rawValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NAMES).map(encodeURIComponent), weight: 8 },
  { arbitrary: fc.constantFrom('%ZZ', '%ED%A0%80', '%FF', '%', 'a%2Cb', '%00', '+', 'a+b', '%E2%82'), weight: 1 },
  { arbitrary: fc.string({ maxLength: 12 }).map(encodeURIComponent), weight: 1 },
);

/** A cursor: entries for channels with real or odd seqs and epochs, and junk parts. */
function cursorArb(facts: HistoryFacts): fc.Arbitrary<string> {
  const real = [...facts.channels.entries()];
  const entry = fc.tuple(
    fc.constantFrom(...real.map(([c]) => c), 'empty-x', 'deny-x', 'zzz'),
    fc.constantFrom('0', '19', '20', '21', '50', '119', '120', '121', '1000000000000000', '-1', '1.5', 'x', '', '0x10', '1e2', '9007199254740993'),
    fc.constantFrom<'real' | 'none' | 'random' | 'bad' | 'long'>('real', 'real', 'none', 'random', 'bad', 'long'),
  ).map(([channel, seq, kind]) => {
    const epoch = kind === 'real' ? facts.channels.get(channel)?.epoch ?? 'Xk3p9qL2mN0r' : kind === 'random' ? 'Xk3p9qL2mN0r' : kind === 'bad' ? 'a.b' : kind === 'long' ? 'e'.repeat(65) : undefined;
    return `${encodeURIComponent(channel)}=${seq}${epoch === undefined ? '' : `.${epoch}`}`;
  });
  const junk = fc.constantFrom('=', '=5.abc', 'a', '%ZZ=1.x', 'hist-0=5=6', ',', ' ');
  return fc.array(fc.oneof({ arbitrary: entry, weight: 5 }, { arbitrary: junk, weight: 1 }), { maxLength: 6 }).map((parts) => parts.join(','));
}

/** Requests: mostly GETs of the two endpoints, with every parameter and header that matters, and some that do not. */
export function httpCase(facts: HistoryFacts): fc.Arbitrary<HttpCase> {
  const cursor = cursorArb(facts);
  const param = fc.oneof(
    { arbitrary: rawValue.map((v) => `channel=${v}`), weight: 6 },
    { arbitrary: fc.array(rawValue, { maxLength: 4 }).map((vs) => `channels=${vs.join(',')}`), weight: 2 },
    { arbitrary: cursor.map((c) => `cursor=${encodeURIComponent(c)}`), weight: 3 },
    { arbitrary: cursor.map((c) => `lastEventId=${encodeURIComponent(c)}`), weight: 2 },
    { arbitrary: fc.constantFrom('ticket=abc', 'ticket=', 'foo=bar', '=', '&', 'channel', 'channels=', 'channels=,,,'), weight: 1 },
  );
  const many = fc.nat({ max: 300 }).map((n) => Array.from({ length: n }, (_, i) => `channel=many-${i}`).join('&'));
  return fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'GET', 'OPTIONS', 'POST', 'PUT', 'DELETE', 'HEAD', 'PATCH'),
    path: fc.oneof(
      { arbitrary: fc.constantFrom('/rt/sse', '/rt/poll', '/rt/poll'), weight: 12 },
      { arbitrary: fc.constantFrom('/rt/sse/', '/rt/SSE', '/rt/./poll', '/rt//poll', '/rt', '/rt/other', '/other/poll', '/rt/poll%00'), weight: 1 },
    ),
    query: fc.oneof({ arbitrary: fc.array(param, { maxLength: 6 }).map((ps) => ps.join('&')), weight: 20 }, { arbitrary: many, weight: 1 }),
    headers: fc.record(
      {
        origin: fc.constantFrom(...ORIGINS),
        'last-event-id': cursor,
        cookie: fc.constantFrom('rxmux_token=x', 'a=b; c', '=;=;'),
        accept: fc.constantFrom('text/event-stream', '*/*', 'application/json'),
      },
      { requiredKeys: [] },
    ).map((h) => {
      // An Origin drawn as `undefined` means no Origin header at all.
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(h) as [string, string | undefined][]) if (value !== undefined) headers[name] = value;
      return headers;
    }),
  });
}

/**
 * Requests for a server without `allowedOrigins` (14.1: the same origin
 * only): Origins naming the Host the request goes to, or almost (another
 * port, scheme, name, case, a path, `null`), and a Host header that is not
 * the server's now and then.
 */
export function originCase(port: number): fc.Arbitrary<HttpCase> {
  const here = `127.0.0.1:${port}`;
  return fc.record({
    method: fc.constantFrom('GET', 'GET', 'OPTIONS'),
    path: fc.constantFrom('/rt/sse', '/rt/poll'),
    query: fc.constant('channel=empty-x'),
    origin: fc.constantFrom(
      undefined,
      `http://${here}`,
      `http://${here}`,
      `https://${here}`,
      `HTTP://${here}`,
      `http://${here}/`,
      'http://127.0.0.1',
      `http://127.0.0.1:${port + 1}`,
      `http://localhost:${port}`,
      'null',
      'http://evil.example',
      `ws://${here}`,
      'http://[::1]',
      'garbage',
    ),
    host: fc.constantFrom(undefined, undefined, undefined, 'evil.example', `localhost:${port}`, '127.0.0.1', `127.0.0.1:80`, `EVIL.example:${port}`),
  }).map(({ method, path, query, origin, host }) => ({
    // A GET of the poll would be held (nothing is new on empty-x): its door is the same as the stream's, so GETs go to /sse.
    method,
    path: method === 'GET' ? '/rt/sse' : path,
    query,
    headers: { ...(origin === undefined ? {} : { origin }), ...(host === undefined ? {} : { host }) },
  }));
}

/** Sends a case from `localAddress`; an SSE stream is read until it is quiet for `quietMs` (bounded), then dropped. */
export function send(port: number, localAddress: string, c: HttpCase, quietMs: number): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: c.method, path: `${c.path}${c.query === '' ? '' : `?${c.query}`}`, headers: c.headers, localAddress, agent: false });
    const deadline = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within 10 s to ${c.method} ${c.path}?${c.query.slice(0, 200)}`));
    }, 10_000);
    req.on('error', (error) => {
      clearTimeout(deadline);
      reject(error);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let quiet: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(deadline);
        clearTimeout(quiet);
        res.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') });
      };
      const stream = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      const arm = (): void => {
        clearTimeout(quiet);
        if (stream) quiet = setTimeout(done, quietMs);
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        arm();
      });
      res.on('end', done);
      res.on('error', done);
      arm();
    });
    req.end();
  });
}

/** Malformed HTTP heads: Node's parser answers 4xx or closes; never a 5xx, never silence. */
export const rawHttp: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('GET', 'G ET', 'GET\u0000', 'POST', '', 'GET /rt/poll?channel=hist-0 HTTP/1.1'),
    fc.constantFrom('/rt/poll?channel=hist-0', '/rt/sse?channel=hist-0', '*', 'http://x/rt/poll?channel=a', '/rt/poll?channel=%', ''),
    fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', 'FOO'),
    fc.array(fc.constantFrom('Host: x', 'Content-Length: 5', 'Content-Length: -1', 'Transfer-Encoding: chunked', 'X: \u0001', 'no-colon', ': empty', 'Last-Event-ID: hist-0=5.x', 'Origin: http://allowed.example', `X-Big: ${'b'.repeat(20_000)}`), { maxLength: 4 }),
  )
  .map(([method, path, version, headers]) => `${method} ${path} ${version}\r\n${headers.join('\r\n')}\r\n\r\n`);

/** Sends a raw head; resolves with the status line's code (0: the server closed without a status) or rejects after 10 s. */
export function sendRaw(port: number, localAddress: string, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to a raw request: ${JSON.stringify(head.slice(0, 120))}`));
    }, 10_000);
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1] ?? 0));
    };
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (/^HTTP\/1\.[01] \d{3}/.test(got)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.write(head, 'latin1');
  });
}
