/**
 * The runtime values each published entry point exports, pinned: an export
 * added or removed by accident (a stray `export *`, an internal helper
 * re-exported) fails here, and a deliberate one updates the list in
 * `entry-points.ts`, in review. Types are not listed: they cost nothing at run time, and the
 * packed-tarball test type-checks what users write against them.
 */
import { describe, expect, it } from 'vitest';
import { ENTRY_POINTS, type EntryPoint } from './entry-points.js';

/** Imports an entry point by its public name (vitest's aliases point it at the sources, which `tsc` builds as they are). */
const load = async (entry: EntryPoint): Promise<Record<string, unknown>> => (await import(entry)) as Record<string, unknown>;

describe('the runtime exports of each entry point', () => {
  it.each(Object.entries(ENTRY_POINTS) as [EntryPoint, readonly string[]][])('%s', async (entry, expected) => {
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
