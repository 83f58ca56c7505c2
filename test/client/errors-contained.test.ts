/**
 * Errors stay where they belong (issue 11.2): a refused or failed
 * fire-and-forget send is reported on the channel's `errors$` and on
 * `conn.errors$`, and the channel's subscribers keep their subscription.
 */
import { firstValueFrom, filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RemoteError, type RxmuxError } from '@rxmux/core';
import { ErrorCode } from '@rxmux/core/protocol';
import { client, serve, wsUrl } from '../support/real.js';
import { until } from '../support/wait.js';

describe('errors that do not end a channel', () => {
  it("a send refused by the README's authorize example, or whose handler throws, leaves the subscribers subscribed", async () => {
    // From the README: anyone may subscribe; only a player publishes on their own channel.
    const server = await serve({ authorize: (_user, channel, action) => action === 'subscribe' || channel === 'player-me' });
    server.handle('player-*', {
      onMessage: (_ctx, data) => {
        if (data === 'boom') throw new Error('handler bug');
      },
    });
    const conn = client(wsUrl(server.port));
    const values: unknown[] = [];
    const channelErrors: RxmuxError[] = [];
    const connErrors: RxmuxError[] = [];
    const other = conn.channel('player-other');
    other.subscribe({ next: (v) => values.push(v), error: (e: unknown) => values.push(['ended', e]) });
    other.errors$.subscribe((e) => channelErrors.push(e));
    conn.errors$.subscribe((e) => connErrors.push(e));
    await firstValueFrom(other.state$.pipe(filter((s) => s === 'joined')));

    other.send('not mine'); // refused: publish not authorized on player-other
    expect(await until(() => channelErrors.length === 1, 5_000)).toBe(true);
    expect(channelErrors[0]).toBeInstanceOf(RemoteError);
    expect(channelErrors[0]).toMatchObject({ code: ErrorCode.Forbidden, channel: 'player-other' });

    const mine = conn.channel('player-me');
    const mineErrors: RxmuxError[] = [];
    mine.errors$.subscribe((e) => mineErrors.push(e));
    mine.send('boom'); // allowed, but the handler throws
    expect(await until(() => mineErrors.length === 1, 5_000)).toBe(true);
    expect(mineErrors[0]).toMatchObject({ code: ErrorCode.Remote, channel: 'player-me' });

    await server.publish('player-other', 'still subscribed');
    expect(await until(() => values.includes('still subscribed'), 5_000)).toBe(true);
    expect(values).toEqual(['still subscribed']); // no 'ended'
    expect(connErrors.map((e) => e.code)).toEqual([ErrorCode.Forbidden, ErrorCode.Remote]);
  });
});
