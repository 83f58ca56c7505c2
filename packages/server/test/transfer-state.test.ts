/**
 * The transfer state of one socket is made by its first transfer and let go
 * once every transfer ended and was credited (writer.ts, transfers.ts): an
 * idle v2 socket keeps only the agreed terms. The writer is driven directly,
 * on a transport that records what it is given.
 */
import { describe, expect, it } from 'vitest';
import { decodeBinary, transferSource, type PeerLimits, type TransferLimits } from '@rxmux/core/protocol';
import { resolveLimits } from '../src/limits.js';
import { Backlog } from '../src/core/backlog.js';
import type { Transport } from '../src/core/transport.js';
import { transferFrame, transferTerms, type PieceSocket } from '../src/core/sessions/transfers.js';
import { Outbox, Writer, type WriterOwner } from '../src/core/sessions/writer.js';
import { OutgoingPublication } from '../src/core/hub.js';

const KIB = 1024;
const CLIENT: PeerLimits & TransferLimits = { maxFrameBytes: 1024 * KIB, maxBatch: 1024, chunkBytes: 64 * KIB, window: 64 * KIB, maxMessageBytes: 8 * 1024 * KIB, maxTransfers: 4 };

/** One turn of the event loop: the outbox flushes in `setImmediate`. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A v2 socket's writer with transfers agreed, the frames it wrote, and the socket side a transfer frame needs. */
function v2Writer() {
  const limits = resolveLimits({});
  const written: (string | Uint8Array)[] = [];
  const transport: Transport = {
    send: (data) => void written.push(data),
    bufferedAmount: 0,
    close: () => undefined,
    terminate: () => undefined,
    ping: () => undefined,
  };
  const owner: WriterOwner = {
    state: 'open',
    buffered: 0,
    receipt: () => undefined,
    cut: () => undefined,
    error: (error: unknown) => {
      throw error;
    },
  };
  const traffic = { messagesIn: 0, framesIn: 0, bytesIn: 0, messagesOut: 0, framesOut: 0, bytesOut: 0 };
  const outbox = new Outbox({ maxFrameBytes: limits.maxFrameBytes, maxPublicationBytes: limits.maxFrameBytes }, traffic, new Backlog(limits));
  const terms = transferTerms(CLIENT, limits);
  const writer = new Writer(owner, transport, outbox, { peer: { maxFrameBytes: CLIENT.maxFrameBytes, maxBatch: CLIENT.maxBatch }, transfers: terms });
  const handled: unknown[] = [];
  const socket: PieceSocket = {
    writer,
    buffered: 0,
    take: () => undefined,
    violated: (message) => {
      throw new Error(message);
    },
    handle: (frame) => void handled.push(frame.data),
    cut: () => undefined,
  };
  /** A frame from the client, handled as the socket does: then the state is let go if idle. */
  const fromClient = (frame: Parameters<typeof transferFrame>[1]): void => {
    void transferFrame(socket, frame, writer.transfersNow(terms));
    writer.settleTransfers();
  };
  /** The pieces written so far (binary frames), decoded. */
  const pieces = () => written.filter((w): w is Uint8Array => typeof w !== 'string').flatMap((w) => decodeBinary(w, { maxFrameBytes: Infinity, maxBatch: 1 }).frames);
  return { writer, written, fromClient, pieces, handled };
}

describe('transfer state of a v2 socket', () => {
  it('is not made while nothing is transferred: small sends and frames go whole', async () => {
    const { writer, written } = v2Writer();
    writer.send('chat', 'hello');
    writer.send('chat', new Uint8Array(100));
    writer.frame({ type: 'subscribed', channel: 'chat', epoch: 'e', seq: 0 });
    await turn();
    expect(writer.transfers).toBeUndefined();
    expect(written.length).toBeGreaterThan(0);
  });

  it('is not made for a text publication within a piece that could have been more at 3 UTF-8 bytes a character (40 KiB of ASCII)', async () => {
    const { writer, written } = v2Writer();
    const text = 'a'.repeat(40 * KIB); // 120 KiB at 3 bytes a code unit, 40 KiB as it is encoded: one whole frame
    writer.publication(new OutgoingPublication({ channel: 'news', epoch: 'e', seq: 1, data: text }));
    expect(writer.transfers).toBeUndefined();
    await turn();
    expect(writer.transfers).toBeUndefined();
    expect(written).toHaveLength(1);
  });

  it('is made by a download, kept while pieces wait for credit, let go after the last credit; the next download starts with the full window again', async () => {
    const { writer, fromClient, pieces } = v2Writer();
    const payload = new Uint8Array(200 * KIB).fill(7);
    writer.send('media', payload);
    expect(writer.transfers).toBeDefined();
    await turn();
    expect(pieces().map((p) => p.type)).toEqual(['transfer']); // one 64 KiB piece: the client's window
    let sent = 64 * KIB;
    while (sent < payload.byteLength) {
      fromClient({ type: 'credit', bytes: 64 * KIB });
      expect(writer.transfers).toBeDefined(); // pieces still out without credit
      await turn();
      sent = pieces().reduce((sum, p) => sum + (p.type === 'transfer' || p.type === 'chunk' ? p.data.byteLength : 0), 0);
    }
    expect(sent).toBe(payload.byteLength);
    fromClient({ type: 'credit', bytes: payload.byteLength - 3 * 64 * KIB }); // the last piece's bytes: all credited
    expect(writer.transfers).toBeUndefined();
    const before = pieces().length;
    writer.send('media', payload);
    await turn();
    expect(pieces().slice(before).map((p) => p.type)).toEqual(['transfer']); // a full window, as the first time
    expect(writer.transfers).toBeDefined();
  });

  it('is made by an upload, writes the credit owed, and is let go by the flush once the message is whole', async () => {
    const { writer, written, fromClient, handled } = v2Writer();
    const payload = new Uint8Array(100 * KIB).fill(3);
    const source = transferSource({ kind: 'message', channel: 'upload' }, payload);
    const [first, second] = [source.piece(0, 64 * KIB), source.piece(64 * KIB, 36 * KIB)].map((wire) => decodeBinary(wire, { maxFrameBytes: Infinity, maxBatch: 1 }).frames[0]);
    if (first?.type !== 'transfer' || second?.type !== 'chunk') throw new Error('unexpected pieces');
    fromClient(first);
    expect(writer.transfers).toBeDefined(); // a credit is owed
    await turn();
    expect(written).toContain(JSON.stringify([22, 64 * KIB]));
    fromClient(second);
    expect(handled).toHaveLength(1);
    expect(writer.transfers).toBeDefined(); // the last piece's credit is owed
    await turn();
    expect(written).toContain(JSON.stringify([22, 36 * KIB]));
    expect(writer.transfers).toBeUndefined();
  });
});
