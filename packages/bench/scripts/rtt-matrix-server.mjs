// mode=rxmux: @rxmux/server; mode=raw: a bare ws server answering rxmux requests directly
import { WebSocketServer } from 'ws';
import { createServer } from '@rxmux/server';
import { decode, encodeText } from '@rxmux/core/protocol';
const mode = process.argv[2];
if (mode === 'rxmux') {
  const s = createServer({ host: '127.0.0.1', port: 0, limits: { ratePerSecond: 1e9, rateBurst: 1e9 } });
  s.handle('*', { onRequest: (_c, d) => d });
  await s.ready(); process.send(s.port);
} else {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'rxmux.v1', perMessageDeflate: false });
  wss.on('connection', (ws) => ws.on('message', (data) => {
    for (const f of decode(data.toString()).frames) {
      if (f.type === 'hello') ws.send(encodeText({ type: 'welcome', version: 1, session: 's', heartbeat: 0 }));
      else if (f.type === 'request') ws.send(encodeText({ type: 'response', id: f.id, data: f.data }));
      else if (f.type === 'subscribe') ws.send(encodeText({ type: 'subscribed', channel: f.channel }));
    }
  }));
  wss.on('listening', () => process.send(wss.address().port));
}
// 'arm' starts counting this process's CPU time; 'cpu' answers what it used since.
let armed = process.cpuUsage();
process.on('message', (m) => {
  if (m === 'arm') {
    armed = process.cpuUsage();
    process.send('armed');
  } else if (m === 'cpu') process.send(process.cpuUsage(armed));
});
