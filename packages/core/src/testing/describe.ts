import type { Frame } from '../protocol/frames.js';

/**
 * A short, stable description of a frame, for asserting the order of what a
 * client sent in one line, and for the kit's error messages:
 *
 * | frame | description |
 * | --- | --- |
 * | `subscribe` / `unsubscribe` | `sub:<channel>` / `unsub:<channel>` |
 * | `message` | `msg:<channel>:<JSON data>`, or `msg:<channel>:bytes<length>` |
 * | `request` / `cancel` | `req:<channel>:<id>` / `cancel:<id>` |
 * | any other | its type: `hello`, `ping`, `refresh`, … |
 *
 * @example
 * describeFrame({ type: 'message', channel: 'a', data: { n: 1 } }); // 'msg:a:{"n":1}'
 * expect(connection.frames.map(describeFrame)).toEqual(['hello', 'sub:a', 'msg:a:1']);
 */
export function describeFrame(frame: Frame): string {
  switch (frame.type) {
    case 'subscribe':
      return `sub:${frame.channel}`;
    case 'unsubscribe':
      return `unsub:${frame.channel}`;
    case 'message':
      return `msg:${frame.channel}:${frame.data instanceof Uint8Array ? `bytes${frame.data.length}` : JSON.stringify(frame.data)}`;
    case 'request':
      return `req:${frame.channel}:${frame.id}`;
    case 'cancel':
      return `cancel:${frame.id}`;
    default:
      return frame.type;
  }
}
