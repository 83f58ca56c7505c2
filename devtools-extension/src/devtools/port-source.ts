/**
 * The panel's source in the extension: a port to the background that
 * reconnects when the service worker restarts, and resumes where it was
 * (the background numbers events per tab; see `messaging/runtime.ts`).
 * @packageDocumentation
 */
import type { DebugAction } from '@rxmux/core/debug';
import type { PanelSource, SourceState } from '../panel/source.js';
import { ReconnectingPort, type PortLike } from '../messaging/port.js';
import { parseBackgroundToPanel, type BackgroundToPanel, type PanelToBackground, type TabState } from '../messaging/runtime.js';

function toSourceState(state: TabState): SourceState {
  return {
    ...(state.url === undefined ? {} : { url: state.url }),
    capture: state.capture,
    ...(state.captureError === undefined ? {} : { captureError: state.captureError }),
  };
}

/**
 * A {@link PanelSource} for the inspected tab `tabId`, over ports opened by
 * `connect` (`runtime.connect({ name: PANEL_PORT })`).
 */
export function createPortSource(tabId: number, connect: () => PortLike): PanelSource {
  let port: ReconnectingPort<BackgroundToPanel, PanelToBackground> | undefined;
  /** The buffer epoch and the number of the last event the panel holds. */
  let epoch: string | undefined;
  let last: number | undefined;
  const send = (message: PanelToBackground): void => port?.post(message);

  return {
    connect(sink) {
      port = new ReconnectingPort<BackgroundToPanel, PanelToBackground>({
        connect,
        parse: parseBackgroundToPanel,
        reconnect: 'eager',
        hello: () => [{ type: 'subscribe', tabId, ...(epoch === undefined ? {} : { epoch }), ...(last === undefined ? {} : { after: last }) }],
        onMessage(message) {
          if (message.type === 'state') {
            sink.state(toSourceState(message.state));
            return;
          }
          if (message.reset || message.epoch !== epoch) {
            sink.reset();
            epoch = message.epoch;
            last = undefined;
          }
          // Anything already held (a resend after a reconnect race) is skipped, never shown twice.
          const skip = last === undefined ? 0 : Math.max(0, last + 1 - message.first);
          const fresh = skip === 0 ? message.events : message.events.slice(skip);
          if (message.events.length > 0) last = Math.max(last ?? -1, message.first + message.events.length - 1);
          if (fresh.length > 0) sink.events(fresh);
        },
      });
      return () => {
        port?.close();
        port = undefined;
      };
    },
    act(conn: string, action: DebugAction) {
      send({ type: 'act', conn, action });
    },
    capture(on: boolean) {
      send({ type: 'capture', on });
    },
    clear() {
      send({ type: 'clear' });
    },
  };
}
