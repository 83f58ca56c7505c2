/**
 * The runtime values each published entry point exports, pinned: an export
 * added or removed by accident (a stray `export *`, an internal helper
 * re-exported) fails here, and a deliberate one updates the list below, in
 * review. Types are not listed: they cost nothing at run time, and the
 * packed-tarball test type-checks what users write against them.
 */
import { describe, expect, it } from 'vitest';

const ENTRY_POINTS = {
  // The client API: connect(), what it hands out, its errors and codes.
  '@rxmux/core': [
    'AckTimeoutError',
    'BufferFullError',
    'Channel',
    'CloseCode',
    'Connection',
    'ConnectionClosedError',
    'ConnectionLostError',
    'ErrorCode',
    'HeartbeatTimeoutError',
    'InvalidArgumentError',
    'ProtocolError',
    'ReconnectFailedError',
    'RemoteError',
    'RequestTimeoutError',
    'RxmuxError',
    'connect',
  ],
  // The wire protocol v1: frames, codec, close and error codes, SSE cursors, the rate bucket. No rxjs.
  '@rxmux/core/protocol': [
    'BINARY_HEADER_BYTES',
    'CloseCode',
    'DEFAULT_DECODE_LIMITS',
    'ErrorCode',
    'FrameType',
    'MAX_CHANNEL_BYTES',
    'MAX_CURSOR_CHARS',
    'PROTOCOL_VERSION',
    'ProtocolError',
    'RESERVED_CHANNEL_PREFIX',
    'RxmuxError',
    'SUBPROTOCOL',
    'TICKET_CHANNEL',
    'base64ToBytes',
    'bytesToBase64',
    'channelIdProblem',
    'channelsOf',
    'dataProblem',
    'decode',
    'decodeBinary',
    'decodeCursor',
    'decodeText',
    'delayFor',
    'encode',
    'encodeBatch',
    'encodeBinary',
    'encodeCursor',
    'encodeText',
    'formatSseEvent',
    'fullBucket',
    'isBinaryFrame',
    'isRetryableClose',
    'messageEncoder',
    'parsePollAnswer',
    'parseStreamEvent',
    'peekPublication',
    'refill',
    'streamPublication',
    'streamUrl',
    'takeTokens',
    'validateFrame',
  ],
  // The debug tap's vocabulary, for debuggers (the DevTools extension).
  '@rxmux/core/debug': ['BINARY_HEAD_BYTES', 'DEBUG_PROTOCOL_VERSION', 'DEVTOOLS_HOOK_KEY', 'binarySummary', 'frameEvent', 'hexHead', 'stripQuery'],
  // The test kit for apps' own tests.
  '@rxmux/core/testing': ['FakeSocketFactory', 'FakeWebSocket'],
  '@rxmux/server': [
    'DEFAULT_HEARTBEAT',
    'DEFAULT_LIMITS',
    'MemoryEngine',
    'MemorySessionStore',
    'MemoryTicketStore',
    'PROTOCOL_VERSION',
    'PendingRequest',
    'SUBPROTOCOL',
    'TICKET_TTL_MS',
    'createServer',
    'createServerCore',
    'extractToken',
    'withExpiry',
  ],
  '@rxmux/elements': [
    'ChannelController',
    'ConnectionController',
    'ContextProviderEvent',
    'ContextRequestEvent',
    'ControllerHostElement',
    'RxmuxConnectionElement',
    'observeConnection',
    'requestConnection',
    'rxmuxContext',
  ],
  '@rxmux/elements/define': ['RXMUX_CONNECTION_TAG'],
} as const satisfies Record<string, readonly string[]>;

/** Imports an entry point by its public name (vitest's aliases point it at the sources, which `tsc` builds as they are). */
const load = async (entry: keyof typeof ENTRY_POINTS): Promise<Record<string, unknown>> => (await import(entry)) as Record<string, unknown>;

describe('the runtime exports of each entry point', () => {
  it.each(Object.entries(ENTRY_POINTS) as [keyof typeof ENTRY_POINTS, readonly string[]][])('%s', async (entry, expected) => {
    expect(Object.keys(await load(entry)).sort()).toEqual([...expected].sort());
  });

  it('keeps the codec out of the client API, which shares its error classes and codes with the protocol', async () => {
    const client = await load('@rxmux/core');
    for (const codec of ['decode', 'encodeText', 'FrameType', 'SUBPROTOCOL', 'fullBucket']) expect(client).not.toHaveProperty(codec);
    // Every class and code the client API hands out is the one the protocol entry point has (one RxmuxError, one ErrorCode).
    const protocol = await load('@rxmux/core/protocol');
    for (const shared of ['RxmuxError', 'ProtocolError', 'ErrorCode', 'CloseCode']) expect(client[shared]).toBe(protocol[shared]);
  });
});
