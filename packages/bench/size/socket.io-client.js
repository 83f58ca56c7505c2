// Bundle-size entry: the same page with socket.io-client (one event).
import { io } from 'socket.io-client';

io('wss://example.com').on('a', (value) => console.log(value));
