// Diagnostic for the round-trip gap: swaps the rxmux client and server one at a time for a
// bare ws peer speaking the same frames, so the cost of each side shows on its own.
// Usage (after npm run build): node packages/bench/scripts/rtt-matrix.mjs <raw|rxmux server> <raw|rxmux client>
import { fork } from 'node:child_process';
import { WebSocket } from 'ws';
import { firstValueFrom, filter } from 'rxjs';
import { connect } from '@rxmux/core';
import { encodeText, decode } from '@rxmux/core/protocol';
const [serverMode, clientMode] = process.argv.slice(2);
const child = fork(new URL('./rtt-matrix-server.mjs', import.meta.url).pathname, [serverMode]);
const port = await new Promise((r) => child.once('message', r));
const url = `ws://127.0.0.1:${port}/rt`;
const N = 5000, times = [];
if (clientMode === 'rxmux') {
  const conn = connect(url, { WebSocket, shared: false});
  conn.channel('hold').subscribe();
  await firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));
  const ch = conn.channel('q');
  for (let i = 0; i < N + 500; i++) { const t = process.hrtime.bigint(); await firstValueFrom(ch.request({ i })); if (i >= 500) times.push(Number(process.hrtime.bigint() - t) / 1000); }
  conn.close();
} else {
  const ws = new WebSocket(url, 'rxmux.v1', { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  let pending;
  ws.on('message', (d) => { for (const f of decode(d.toString()).frames) if (f.type === 'response') pending?.(); });
  ws.send(encodeText({ type: 'hello', version: 1 }));
  await new Promise((r) => setTimeout(r, 100));
  for (let i = 0; i < N + 500; i++) { const t = process.hrtime.bigint(); await new Promise((r) => { pending = r; ws.send(encodeText({ type: 'request', channel: 'q', id: i + 1, data: { i } })); }); if (i >= 500) times.push(Number(process.hrtime.bigint() - t) / 1000); }
  ws.close();
}
times.sort((a, b) => a - b);
console.log(`server=${serverMode} client=${clientMode} p50=${times[N / 2].toFixed(0)}µs p99=${times[Math.floor(N * 0.99)].toFixed(0)}µs`);
child.kill();
