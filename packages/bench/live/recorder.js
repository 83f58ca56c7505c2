// Injected by `npm run bench -- --scenario live` before any script of the page: wraps `WebSocket` and
// `EventSource` (the demo's own counters then wrap these wrappers) and timestamps, with the page's clock,
// each socket's creation and open, the first `subscribed` of each channel, and each EventSource's `ready`
// with the channels it names. With `globalThis.__liveTwoStep` set, a first message that is a hello batch
// leaves as the hello alone and the rest once the welcome arrived: the wire of a client without the batch.
(() => {
  const now = () => performance.now();
  const record = { ws: [], es: [] };
  globalThis.__live = record;
  const twoStep = globalThis.__liveTwoStep === true;
  const envelopes = (data) => {
    try {
      const parsed = JSON.parse(data);
      return Array.isArray(parsed[0]) ? parsed : [parsed];
    } catch {
      return [];
    }
  };
  const NativeWebSocket = globalThis.WebSocket;
  globalThis.WebSocket = class RecordingWebSocket extends NativeWebSocket {
    #seen = { created: now(), open: undefined, subscribed: {} };
    #sent = 0;
    #held;

    constructor(url, protocols) {
      super(url, protocols);
      record.ws.push(this.#seen);
      this.addEventListener('open', () => (this.#seen.open = now()));
      this.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') return;
        const at = now();
        const frames = envelopes(event.data);
        for (const [type, channel] of frames) if (type === 6 && typeof channel === 'string') this.#seen.subscribed[channel] ??= at;
        if (this.#held !== undefined && frames.some(([type]) => type === 3)) {
          const rest = this.#held;
          this.#held = undefined;
          super.send(rest);
        }
      });
    }

    send(data) {
      if (twoStep && this.#sent++ === 0 && typeof data === 'string') {
        const frames = envelopes(data);
        if (frames.length > 1 && frames[0][0] === 2) {
          this.#held = JSON.stringify(frames.slice(1));
          super.send(JSON.stringify(frames[0]));
          return;
        }
      }
      super.send(data);
    }
  };
  const NativeEventSource = globalThis.EventSource;
  globalThis.EventSource = class RecordingEventSource extends NativeEventSource {
    constructor(url, init) {
      super(url, init);
      const seen = { created: now(), ready: undefined, channels: [] };
      record.es.push(seen);
      this.addEventListener('ready', (event) => {
        if (seen.ready !== undefined) return;
        seen.ready = now();
        try {
          seen.channels = JSON.parse(event.data).channels;
        } catch {
          // not ours to judge
        }
      });
    }
  };
})();
