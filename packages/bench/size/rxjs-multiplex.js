// Bundle-size entry: the same page with RxJS webSocket().multiplex alone (no reconnect, no resume, no buffer).
import { webSocket } from 'rxjs/webSocket';

webSocket('wss://example.com')
  .multiplex(() => ({ subscribe: 'a' }), () => ({ unsubscribe: 'a' }), (message) => message.channel === 'a')
  .subscribe((value) => console.log(value));
