/**
 * Display formatting, with the platform's `Intl` where it has one.
 * @packageDocumentation
 */

const integer = new Intl.NumberFormat('en-US');
const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const time = new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, hour12: false });

/** `12,345`. */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** `512 B`, `1.5 kB`, `2.3 MB` (decimal units, as the Network panel shows them). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1_000_000) return `${oneDecimal.format(n / 1000)} kB`;
  return `${oneDecimal.format(n / 1_000_000)} MB`;
}

/** `12:04:05.123`, local time. */
export function formatTime(at: number): string {
  return time.format(at);
}

/** `85 ms`, `1.2 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${oneDecimal.format(ms / 1000)} s`;
}

/** `3.4/s`, or an en dash for nothing. */
export function formatRate(perSecond: number): string {
  return perSecond === 0 ? '–' : `${oneDecimal.format(perSecond)}/s`;
}

/** Rows of a hex dump: offset, 16 bytes of hex, their printable ASCII. */
export function hexRows(hex: string): { offset: string; hex: string; ascii: string }[] {
  const rows: { offset: string; hex: string; ascii: string }[] = [];
  for (let i = 0; i < hex.length; i += 32) {
    const chunk = hex.slice(i, i + 32);
    const bytes = chunk.match(/../g) ?? [];
    rows.push({
      offset: (i / 2).toString(16).padStart(8, '0'),
      hex: bytes.join(' '),
      ascii: bytes.map((b) => {
        const code = Number.parseInt(b, 16);
        return code >= 0x20 && code < 0x7f ? String.fromCharCode(code) : '.';
      }).join(''),
    });
  }
  return rows;
}
