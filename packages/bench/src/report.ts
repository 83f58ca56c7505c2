/** Text tables and the JSON file of a bench run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchReport, ScenarioResult } from './harness.js';

/** A number for a table: thousands separated, two significant decimals below 10, a dash when missing. */
export function num(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

/** Rows as an aligned text table (first row: the header; first column left-aligned, the others right-aligned). */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const [head, ...body] = rows;
  return [line(head ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** One scenario as a table: medians per contender, then the ratio columns. */
export function scenarioTable(s: ScenarioResult): string {
  const head = ['metric (median of runs)', ...s.contenders, ...s.ratios.map(([a, b]) => `${a}/${b}`)];
  const rows = s.metrics.map((m) => [
    `${m.label} ${m.better === 'higher' ? '↑' : '↓'}`,
    ...s.contenders.map((c) => num(s.medians[c]?.[m.key])),
    ...s.ratios.map(([a, b]) => {
      const r = (s.medians[a]?.[m.key] ?? Number.NaN) / (s.medians[b]?.[m.key] ?? Number.NaN);
      return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—';
    }),
  ]);
  const out = [s.title, `load before: ${s.loadBefore.map((l) => l.toFixed(2)).join(' ')}; ${s.seconds.toFixed(0)} s`, table([head, ...rows])];
  for (const v of s.verdicts) out.push(`  target ${v.met ? 'MET   ' : 'MISSED'} ${v.target}: ${v.detail}`);
  for (const e of s.errors) out.push(`  ERROR ${e}`);
  return out.join('\n');
}

/** The whole report as text. */
export function formatReport(r: BenchReport): string {
  const m = r.machine;
  const out = [
    `rxmux bench — ${r.profile} profile, ${r.startedAt}, ${r.seconds.toFixed(0)} s`,
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.platform}, Node ${m.node}; load at start ${m.loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
    `versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...(r.scaled.length > 0 ? [`scaled down from the issue's counts: ${r.scaled.join('; ')} (run with --full for the issue's counts)`] : []),
    ...r.notes.map((n) => `note: ${n}`),
    '↑ higher is better, ↓ lower is better; ratios are rxmux over the other contender.',
  ];
  for (const s of r.scenarios) out.push('', scenarioTable(s));
  return out.join('\n');
}

/** Writes the report as JSON under `dir`; returns the file path. */
export function saveReport(r: BenchReport, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${r.startedAt.replace(/[:.]/g, '-')}-${r.profile}.json`);
  writeFileSync(file, `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
