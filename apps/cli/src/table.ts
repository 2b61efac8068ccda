/** Columns padded to their widest cell; numbers right-aligned. CJK characters count double. */
export function table(head: string[], rows: (string | number)[][]): string {
  const width = (s: string) =>
    [...s].reduce((w, ch) => w + ((ch.codePointAt(0) ?? 0) > 0x2e80 ? 2 : 1), 0);
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => width(r[i] ?? ''))));
  const pad = (s: string, i: number, right: boolean) => {
    const gap = ' '.repeat(Math.max(0, (widths[i] ?? 0) - width(s)));
    return right ? gap + s : s + gap;
  };
  return cells
    .map((r, n) =>
      r
        .map((c, i) => pad(c, i, n > 0 && typeof rows[n - 1]?.[i] === 'number'))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
