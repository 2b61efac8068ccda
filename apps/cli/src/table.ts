import stringWidth from 'string-width';

/**
 * Columns padded to their widest cell; numbers right-aligned. Widths are
 * measured as a terminal draws them (string-width: CJK and other wide
 * characters take two cells, combining marks none).
 */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => stringWidth(r[i] ?? ''))));
  const pad = (s: string, i: number, right: boolean) => {
    const gap = ' '.repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(s)));
    return right ? gap + s : s + gap;
  };
  return cells
    .map((r, n) =>
      r
        .map((c, i) => pad(c, i, n > 0 && isNumeric(rows[n - 1]?.[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Numbers, and figures written as numbers (12.5%, 1,234.00), sit right-aligned. */
const isNumeric = (v: string | number | undefined) =>
  typeof v === 'number' || (typeof v === 'string' && /^[-+]?[\d,]+(\.\d+)?%?$/.test(v));

/** A count with thousands separators. */
export const count = (n: number) => n.toLocaleString('en-US');

/** Fines in 万元 (ten thousand yuan), two decimals, with separators. */
export const wan = (fen: number) =>
  (fen / 1_000_000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
