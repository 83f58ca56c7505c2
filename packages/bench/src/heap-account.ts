/**
 * `npm run bench:heap [-- options]`: the heap account of an idle connection,
 * item by item. Scenario 4 (`idle`) gives the bytes; this says what they are.
 *
 * For each contender: the bench's own server process (`server-main.ts`, run
 * with `--expose-gc`) and load generator (`client-main.ts`), as scenario 4
 * runs them. The server's heap is counted (`heap-census.ts`) empty, with
 * every connection on one channel, and with every connection on all of its
 * channels; the differences divided by the connections (and by the added
 * subscriptions) are printed by item, largest first. A first ramp on other
 * processes reads only the RSS and V8's heap spaces (what each holds from
 * the system, and uses): the part of RSS that is not live objects.
 *
 *   --only ws,rxmux     contenders (default: ws,rxmux)
 *   --clients N         connections (default 500)
 *   --channels N        channels per connection (default 4)
 *   --top N             items printed per table (default 25)
 */
import { CONTENDERS, type Contender } from './contenders.js';
import { account, type AccountLine, type Census } from './heap-census.js';
import { Child } from './ipc.js';
import { flagValue } from './util.js';

const TIMEOUT_MS = 60_000;

interface Accounts {
  readonly perConnection: AccountLine[];
  readonly perSubscription: AccountLine[];
  readonly heapUsedPerConnection: number;
  /** Per connection: RSS, and each heap space's size (held from the system) and use, after gc; empty server → all channels. */
  readonly spaces: string;
}

/** What `heapSpaces` answers. */
interface Spaces {
  readonly rss: number;
  readonly spaces: Record<string, { readonly size: number; readonly used: number }>;
}

/** The RSS and heap spaces that grew, per connection: where RSS goes besides live objects. */
function spacesTable(before: Spaces, after: Spaces, units: number): string {
  const kb = (bytes: number): string => (bytes / units / 1024).toFixed(2);
  const rows = Object.entries(after.spaces)
    .map(([name, a]) => ({ name, size: a.size - (before.spaces[name]?.size ?? 0), used: a.used - (before.spaces[name]?.used ?? 0) }))
    .filter((r) => r.size !== 0 || r.used !== 0)
    .map((r) => `| ${r.name} | ${kb(r.size)} | ${kb(r.used)} |`);
  return [`RSS: ${kb(after.rss - before.rss)} KB per connection; V8 heap spaces (KB per connection):`, '| space | size (held) | used |', '| --- | ---: | ---: |', ...rows].join('\n');
}

/**
 * Scenario 4's ramp on fresh processes. With `census`, the server's heap is
 * counted empty, on one channel and on all; without, only its heap spaces
 * are read (a census's own allocations would grow the spaces it reads).
 */
async function ramp<T>(contender: Contender, clients: number, channels: readonly [string, ...string[]], at: (server: Child, stage: 'empty' | 'one' | 'all') => Promise<T>): Promise<Record<'empty' | 'one' | 'all', T>> {
  const server = await Child.start('./server-main.js', `${contender} server`, { execArgv: ['--expose-gc'] });
  const client = await Child.start('./client-main.js', `${contender} load generator`).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  try {
    const { port } = await server.call<{ port: number }>('start', { contender });
    const [first, ...more] = channels;
    const wait = (channel: string): Promise<number> =>
      server.call('waitSubscribers', { channel, count: clients, timeoutMs: TIMEOUT_MS }, TIMEOUT_MS + 5_000);
    const empty = await at(server, 'empty');
    await client.call('connect', { contender, port, n: clients, hold: first, subscribe: first, timeoutMs: TIMEOUT_MS }, TIMEOUT_MS + 5_000);
    await wait(first);
    const one = await at(server, 'one');
    await client.call('subscribe', { channels: more });
    for (const channel of more) await wait(channel);
    return { empty, one, all: await at(server, 'all') };
  } finally {
    await client.call('close', {}, 5_000).catch(() => undefined);
    await server.call('stop', {}, 5_000).catch(() => undefined);
    await Promise.all([client.stop(), server.stop()]);
  }
}

async function measure(contender: Contender, clients: number, channels: readonly [string, ...string[]]): Promise<Accounts> {
  const added = clients * (channels.length - 1);
  const sizes = await ramp(contender, clients, channels, (server) => server.call<Spaces>('heapSpaces'));
  const census = await ramp(contender, clients, channels, async (server) => ({
    used: (await server.call<{ heapUsed: number }>('memory')).heapUsed,
    census: await server.call<Census>('heapCensus', {}, TIMEOUT_MS),
  }));
  return {
    perConnection: account(census.empty.census, census.all.census, clients),
    perSubscription: added === 0 ? [] : account(census.one.census, census.all.census, added),
    heapUsedPerConnection: (census.all.used - census.empty.used) / clients,
    spaces: spacesTable(sizes.empty, sizes.all, clients),
  };
}

/** The table of one account: its `top` largest items, the rest summed, and the total. */
function table(title: string, lines: readonly AccountLine[], top: number): string {
  const total = lines.reduce((sum, l) => sum + l.bytes, 0);
  const shown = lines.slice(0, top);
  const rest = lines.slice(top);
  const row = (item: string, count: string, bytes: number): string => `| ${item} | ${count} | ${bytes.toFixed(0)} |`;
  return [
    `\n${title}: ${total.toFixed(0)} B`,
    '| item | objects | bytes |',
    '| --- | ---: | ---: |',
    ...shown.map((l) => row(l.item.replace(/\|/g, '\\|'), l.count.toFixed(2), l.bytes)),
    row(`(${rest.length} other items)`, '', rest.reduce((sum, l) => sum + l.bytes, 0)),
    row('**total**', '', total),
  ].join('\n');
}

async function main(args: readonly string[]): Promise<number> {
  const only = (flagValue(args, '--only')?.split(',') ?? ['ws', 'rxmux']) as Contender[];
  for (const c of only) if (!CONTENDERS.includes(c)) throw new Error(`unknown contender ${c}`);
  const clients = Number(flagValue(args, '--clients') ?? 500);
  const count = Number(flagValue(args, '--channels') ?? 4);
  const top = Number(flagValue(args, '--top') ?? 25);
  if (!(clients >= 1 && count >= 1 && top >= 1)) throw new Error('--clients, --channels and --top need a positive number');
  const channels = Array.from({ length: count }, (_, i) => (i === 0 ? 'idle' : `idle-${i + 1}`)) as [string, ...string[]];
  console.log(`heap account: ${clients} connections × ${count} channels; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  for (const contender of only) {
    const a = await measure(contender, clients, channels);
    console.log(`\n## ${contender} (heapUsed after gc: ${(a.heapUsedPerConnection / 1024).toFixed(2)} KB per connection)`);
    console.log(a.spaces);
    console.log(table(`per connection (${count} channels), live heap`, a.perConnection, top));
    if (a.perSubscription.length > 0) console.log(table('per added (connection, channel) subscription', a.perSubscription, Math.min(top, 12)));
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
