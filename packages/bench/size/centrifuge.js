// Bundle-size entry: the same page with centrifuge (one subscription).
import { Centrifuge } from 'centrifuge';

const client = new Centrifuge('wss://example.com/connection/websocket');
client.newSubscription('a').on('publication', (ctx) => console.log(ctx.data)).subscribe();
client.connect();
