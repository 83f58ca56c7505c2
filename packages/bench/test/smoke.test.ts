/**
 * Smoke run of the bench harness: tiny counts, every contender, every
 * scenario. It checks that the harness produces numbers, never how big they
 * are (no timed assertions: this machine is shared and noisy).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'rxmux-bench-smoke-'));

interface Report {
  readonly machine: { readonly cores: number; readonly node: string };
  readonly scenarios: readonly {
    readonly id: string;
    readonly contenders: readonly string[];
    readonly metrics: readonly { readonly key: string }[];
    readonly medians: Record<string, Record<string, number>>;
    readonly errors: readonly string[];
  }[];
}

let report: Report;

describe('bench harness (smoke profile)', () => {
  beforeAll(() => {
    // The harness forks compiled files: build the bench package (and what it references) first.
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/bench')], { cwd: root, stdio: 'inherit' });
    execFileSync(process.execPath, [join(root, 'packages/bench/dist/cli.js'), '--smoke', '--out', out], { cwd: root, stdio: 'pipe', timeout: 150_000 });
    const file = readdirSync(out).find((f) => f.endsWith('-smoke.json'));
    if (file === undefined) throw new Error('the bench wrote no JSON report');
    report = JSON.parse(readFileSync(join(out, file), 'utf8')) as Report;
  }, 180_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('runs every scenario against every contender without errors', () => {
    expect(report.scenarios.map((s) => s.id)).toEqual(['fanin-1', 'fanin-many', 'rtt', 'fanout', 'idle', 'binary', 'routing', 'tap', 'cross-node', 'bundle', 'live', 'hol']);
    for (const s of report.scenarios) expect(s.errors).toEqual([]);
    for (const s of report.scenarios.filter((s) => !['routing', 'tap', 'cross-node', 'bundle', 'live', 'hol'].includes(s.id))) expect(s.contenders).toEqual(['ws', 'socket.io', 'rxmux']);
    expect(report.scenarios.find((s) => s.id === 'bundle')?.contenders).toEqual(['rxmux', 'rxmux+events', 'rxmux-elements', 'socket.io-client', 'centrifuge', 'multiplex']);
    expect(report.scenarios.find((s) => s.id === 'live')?.contenders).toEqual(['pooled', 'pooled-two-step', 'nine-connections']);
    expect(report.scenarios.find((s) => s.id === 'cross-node')?.contenders).toEqual(['memory-local', 'redis-local', 'redis-cross']);
    expect(report.scenarios.find((s) => s.id === 'routing')?.contenders).toEqual(['multiplex', 'rxmux-unbatched', 'rxmux', 'floor', 'floor-unbatched']);
    expect(report.scenarios.find((s) => s.id === 'tap')?.contenders).toEqual(['absent', 'off', 'on']);
    expect(report.scenarios.find((s) => s.id === 'hol')?.contenders).toEqual(['rxmux', 'rxmux-w256k', 'ws']);
  });

  it('produces a positive number for every throughput, latency and CPU metric', () => {
    for (const s of report.scenarios) {
      for (const c of s.contenders) {
        for (const m of s.metrics) {
          const v = s.medians[c]?.[m.key];
          if (s.id === 'bundle' && m.key === 'external' && !c.startsWith('rxmux')) continue; // the comparisons are measured whole only
          // Memory deltas of a handful of idle sockets and kernel shares can be 0 or even negative; they must still be numbers.
          if (s.id === 'idle' || m.key === 'kernelShare') expect(Number.isFinite(v), `${s.id} ${c} ${m.key}`).toBe(true);
          else expect(v, `${s.id} ${c} ${m.key}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('records the machine', () => {
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toMatch(/^v\d+/);
  });
});
