/** Figures of a run: the growth slope of memory samples, sizes and times for tables. */
import { num } from '../report.js';

/** Least-squares slope of `y` over `x` (units of y per unit of x); NaN with fewer than two distinct x. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

/** A count, for tables: `12,345`. */
export const int = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

/** Mebibytes, for tables. */
export const mib = (bytes: number): string => (Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(1) : '—');

/** Milliseconds, for tables. */
export const ms = (v: number): string => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(2)) : '—');

/** A ratio `a / b` as `1.23×`. */
export const ratio = (a: number, b: number): string => {
  const r = a / b;
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—';
};

export { num };
