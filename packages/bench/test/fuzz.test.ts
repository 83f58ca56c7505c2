/**
 * The fuzz's seeded slice (issue 14, item 5): 3,000 cases of `npm run fuzz`,
 * same properties, same seed every run, through the same CLI. Every case
 * must be answered as PROTOCOL.md says (the oracle in `src/fuzz/`), the
 * server process must stay up with no internal error, and the well-behaved
 * clients on it must lose nothing. Counts and outcomes only: no timing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'rxmux-fuzz-'));

interface Report {
  readonly properties: readonly { readonly name: string; readonly cases: number; readonly failure?: string; readonly outcomes: Record<string, number> }[];
  readonly serverAlive: boolean;
  readonly unexpectedServerErrors: number;
  readonly bystanders: { readonly expected: number; readonly delivered: number; readonly lost: number; readonly duplicated: number; readonly disconnects: number };
  readonly failures: number;
}

let report: Report;
let status = 0;
let printed = '';

describe('fuzz, seeded slice (3,000 cases)', () => {
  beforeAll(() => {
    // The fuzz forks the compiled server: build the bench package (and what it references) first.
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', join(root, 'packages/bench')], { cwd: root, stdio: 'inherit' });
    const file = join(out, 'fuzz.json');
    try {
      printed = execFileSync(process.execPath, [join(root, 'packages/bench/dist/fuzz/cli.js'), '--cases', '3000', '--seed', '20261201', '--seconds', '90', '--json', file], {
        cwd: root,
        encoding: 'utf8',
        timeout: 150_000,
      });
    } catch (error) {
      status = (error as { status?: number }).status ?? -1;
      printed = (error as { stdout?: string }).stdout ?? '';
    }
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  }, 200_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('answers every case as PROTOCOL.md says', () => {
    const failed = report.properties.filter((p) => p.failure !== undefined).map((p) => `${p.name}: ${p.failure ?? ''}`);
    expect(failed, printed.slice(-4000)).toEqual([]);
    expect(status).toBe(0);
  });

  it('ran every property, at least 3,000 cases in all', () => {
    expect(report.properties.map((p) => p.name)).toEqual([
      'ws-random',
      'ws-mutated',
      'ws-valid',
      'ws-order',
      'ws-oversize',
      'ws-rate',
      'http',
      'http-origin',
      'http-raw',
      'client-junk',
      'client-mutated',
      'client-frames',
      'client-early',
      'client-close',
    ]);
    for (const p of report.properties) expect(p.cases, p.name).toBeGreaterThan(0);
    expect(report.properties.reduce((n, p) => n + p.cases, 0)).toBeGreaterThanOrEqual(3000);
  });

  it('keeps the server up without internal errors, and the well-behaved clients lose nothing', () => {
    expect(report.serverAlive).toBe(true);
    expect(report.unexpectedServerErrors).toBe(0);
    const b = report.bystanders;
    expect(b.expected).toBeGreaterThan(0);
    expect({ delivered: b.delivered, lost: b.lost, duplicated: b.duplicated, disconnects: b.disconnects }).toEqual({ delivered: b.expected, lost: 0, duplicated: 0, disconnects: 0 });
  });
});
