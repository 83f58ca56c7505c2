/**
 * A census of a V8 heap snapshot: the live objects counted and sized by what
 * they are (constructor, closure, system object), so two censuses of the same
 * process taken before and after opening connections give what each
 * connection retains, item by item (`heap-account.ts`).
 *
 * Sizes are V8's shallow ("self") sizes: an object's own fields, not what it
 * points to; its properties store, elements and a `Map`'s table are items of
 * their own (`(object properties)`, `(object elements)`, `system /
 * OrderedHashMap`...). The sum over every item is the live heap.
 */
import { getHeapSnapshot } from 'node:v8';

/** One item of a census: how many live heap objects, and their shallow bytes. */
export interface CensusItem {
  count: number;
  bytes: number;
}

/** Items by key: `Name` for objects of a constructor, `Name()` for closures, `(kind) name` for the rest. */
export type Census = Record<string, CensusItem>;

/** The parts of the `.heapsnapshot` JSON a census reads. */
interface HeapSnapshotJson {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

/** What one heap object is counted as. Strings, numbers and code are one item each, whatever their contents. */
function key(type: string, name: string): string {
  switch (type) {
    case 'object':
      return name;
    case 'closure':
      return `${name || '(anonymous)'}()`;
    case 'string':
    case 'concatenated string':
    case 'sliced string':
      return '(string)';
    case 'code':
      return '(compiled code)';
    case 'number':
      return '(heap number)';
    case 'hidden':
    case 'object shape':
      return name;
    default:
      return `(${type}) ${name}`.trimEnd();
  }
}

/**
 * Items that say little by themselves (a plain object, a collection, an
 * anonymous closure, a context, a backing store): counted under their first
 * strong retainer, up to three levels up, as `item ← Owner.field ← Its owner.field`,
 * so the account says whose they are.
 */
const ANONYMOUS = new Set([
  'Object',
  'Array',
  'Map',
  'Set',
  '(anonymous)()',
  'system / Context',
  '(array)',
  '(array) (object properties)',
  '(array) (object elements)',
  'system / PropertyArray',
  '(heap number)',
  '(string)',
]);

/** Levels of owners named for an anonymous item. */
const OWNER_LEVELS = 3;

/** Longest name kept (a regular expression's source can be kilobytes). */
const MAX_NAME = 60;

/** Counts the objects of a parsed heap snapshot by {@link key} (and the owners of the anonymous ones). */
export function census(snapshot: HeapSnapshotJson): Census {
  const meta = snapshot.snapshot.meta;
  const width = meta.node_fields.length;
  const typeAt = meta.node_fields.indexOf('type');
  const nameAt = meta.node_fields.indexOf('name');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const edgeWidth = meta.edge_fields.length;
  const edgeTypeAt = meta.edge_fields.indexOf('type');
  const edgeNameAt = meta.edge_fields.indexOf('name_or_index');
  const edgeToAt = meta.edge_fields.indexOf('to_node');
  const typeNames = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = snapshot;
  const count = nodes.length / width;
  const keys: string[] = new Array<string>(count);
  for (let n = 0; n < count; n++) {
    const i = n * width;
    const name = strings[nodes[i + nameAt] as number] ?? '';
    keys[n] = key(typeNames[nodes[i + typeAt] as number] ?? 'unknown', name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name);
  }
  // The first strong retainer of each anonymous object, and the edge's name (indexes as []).
  const owner = new Int32Array(count).fill(-1);
  const via: string[] = new Array<string>(count);
  let e = 0;
  for (let n = 0; n < count; n++) {
    const edgeCount = nodes[n * width + edgeCountAt] as number;
    for (let k = 0; k < edgeCount; k++, e += edgeWidth) {
      const to = (edges[e + edgeToAt] as number) / width;
      if (owner[to] !== -1 || !ANONYMOUS.has(keys[to] as string)) continue;
      const type = edgeTypes[edges[e + edgeTypeAt] as number];
      if (type === 'weak' || type === 'shortcut') continue;
      const name = type === 'element' || type === 'hidden' ? '' : (strings[edges[e + edgeNameAt] as number] ?? '');
      owner[to] = n;
      via[to] = /^\d*$/.test(name) ? '[]' : name;
    }
  }
  const label = (n: number): string => {
    let out = keys[n] as string;
    for (let level = 0, at = n; level < OWNER_LEVELS && owner[at] !== -1; level++) {
      const by = owner[at] as number;
      out += ` ← ${keys[by] as string}.${via[at] as string}`;
      if (!ANONYMOUS.has(keys[by] as string)) break;
      at = by;
    }
    return out;
  };
  const out: Census = {};
  for (let n = 0; n < count; n++) {
    const item = (out[label(n)] ??= { count: 0, bytes: 0 });
    item.count++;
    item.bytes += nodes[n * width + sizeAt] as number;
  }
  return out;
}

/** Takes a heap snapshot of this process (after the caller's gc) and counts it. */
export async function takeCensus(): Promise<Census> {
  const chunks: string[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(String(chunk));
  return census(JSON.parse(chunks.join('')) as HeapSnapshotJson);
}

/** One line of an account: an item's objects and bytes per unit (per connection, per subscription). */
export interface AccountLine {
  readonly item: string;
  readonly count: number;
  readonly bytes: number;
}

/** What `after` holds more than `before`, per unit of `units`, largest first. Items that shrank are kept (negative). */
export function account(before: Census, after: Census, units: number): AccountLine[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const lines: AccountLine[] = [];
  for (const item of keys) {
    const a = before[item] ?? { count: 0, bytes: 0 };
    const b = after[item] ?? { count: 0, bytes: 0 };
    if (a.count === b.count && a.bytes === b.bytes) continue;
    lines.push({ item, count: (b.count - a.count) / units, bytes: (b.bytes - a.bytes) / units });
  }
  return lines.sort((x, y) => y.bytes - x.bytes);
}
