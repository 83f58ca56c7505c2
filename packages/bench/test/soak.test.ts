/**
 * The soak's short version (issue 14, item 7): 200 connections for 5 s of
 * fan-out, through the same CLI as `npm run soak`. It checks what must hold
 * on any machine, never how fast: every publication reached every
 * connection once, in order, no connection dropped, and the figures exist.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'rxmux-soak-'));

interface Report {
  readonly delivery: { clients: number; expected: number; delivered: number; lost: number; duplicated: number; disconnects: number; failed: number; p99: number; samples: number };
  readonly server: { samples: readonly { rss: number; heapUsed: number }[]; eld: { p99: number } };
  readonly rssSlopeKbPerMin: number;
  readonly heapSlopeKbPerMin: number;
}

let report: Report;
let printed: string;

describe('soak, short (200 connections, 5 s)', () => {
  beforeAll(() => {
    // The soak forks compiled files: build the bench package (and what it references) first.
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/bench')], { cwd: root, stdio: 'inherit' });
    const file = join(out, 'soak.json');
    printed = execFileSync(process.execPath, [join(root, 'packages/bench/dist/soak/cli.js'), '--connections', '200', '--seconds', '5', '--per-address', '50', '--json', file], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  }, 150_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('delivers every publication to every connection once, in order, and keeps every connection', () => {
    const d = report.delivery;
    expect(d.clients).toBe(200);
    expect(d.expected).toBeGreaterThan(0);
    expect({ delivered: d.delivered, lost: d.lost, duplicated: d.duplicated, disconnects: d.disconnects, failed: d.failed }).toEqual({
      delivered: d.expected,
      lost: 0,
      duplicated: 0,
      disconnects: 0,
      failed: 0,
    });
  });

  it('samples the server memory every second and reports the slope, the latency and the loop delay', () => {
    expect(report.server.samples.length).toBeGreaterThanOrEqual(3);
    expect(Number.isFinite(report.rssSlopeKbPerMin)).toBe(true);
    expect(Number.isFinite(report.heapSlopeKbPerMin)).toBe(true);
    expect(report.delivery.samples).toBe(report.delivery.expected);
    expect(report.delivery.p99).toBeGreaterThan(0);
    expect(Number.isFinite(report.server.eld.p99)).toBe(true);
    expect(printed).toMatch(/RSS growth slope after warm-up \(KB\/min\)/);
  });
});
