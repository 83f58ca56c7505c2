// Diagnostic for the round-trip gap: swaps the rxmux client and server one at a time for a
// bare ws peer speaking the same frames, so the cost of each side shows on its own. After
// 5,000 warm-up requests (the JIT's: bench README, scenario 2) it times 10,000 and reads each
// process's CPU per request (user and kernel), which is steadier than the wall times.
// Usage (after npm run build): node packages/bench/scripts/rtt-matrix.mjs <raw|rxmux server> <raw|rxmux client>
import { fork } from 'node:child_process';
import { WebSocket } from 'ws';
import { firstValueFrom, filter } from 'rxjs';
import { connect } from '@rxmux/core';
import { encodeText, decode } from '@rxmux/core/protocol';
const [serverMode, clientMode] = process.argv.slice(2);
const child = fork(new URL('./rtt-matrix-server.mjs', import.meta.url).pathname, [serverMode]);
const next = () => new Promise((r) => child.once('message', r));
const port = await next();
const url = `ws://127.0.0.1:${port}/rt`;
const W = 5000, N = 10000, times = [];
let once, close;
if (clientMode === 'rxmux') {
  const conn = connect(url, { WebSocket, shared: false });
  conn.channel('hold').subscribe();
  await firstValueFrom(conn.status$.pipe(filter((s) => s === 'open')));
  const ch = conn.channel('q');
  once = (i) => firstValueFrom(ch.request({ i }));
  close = () => conn.close();
} else {
  const ws = new WebSocket(url, 'rxmux.v1', { perMessageDeflate: false });
  await new Promise((r) => ws.once('open', r));
  let pending;
  ws.on('message', (d) => { for (const f of decode(d.toString()).frames) if (f.type === 'response') pending?.(); });
  ws.send(encodeText({ type: 'hello', version: 1 }));
  await new Promise((r) => setTimeout(r, 100));
  once = (i) => new Promise((r) => { pending = r; ws.send(encodeText({ type: 'request', channel: 'q', id: i + 1, data: { i } })); });
  close = () => ws.close();
}
for (let i = 0; i < W; i++) await once(i);
child.send('arm');
await next();
const cpu = process.cpuUsage();
for (let i = 0; i < N; i++) { const t = process.hrtime.bigint(); await once(i); times.push(Number(process.hrtime.bigint() - t) / 1000); }
const client = process.cpuUsage(cpu);
child.send('cpu');
const server = await next();
close();
times.sort((a, b) => a - b);
const us = (d) => `${((d.user + d.system) / N).toFixed(1)} µs (user ${(d.user / N).toFixed(1)})`;
console.log(`server=${serverMode} client=${clientMode} p50=${times[N / 2].toFixed(0)}µs p99=${times[Math.floor(N * 0.99)].toFixed(0)}µs; CPU per request: client ${us(client)}, server ${us(server)}`);
child.kill();
