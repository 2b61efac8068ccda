/** A table column of numbers: right-aligned, each shown by `show` (0 when absent). */
export const numeric = (title: string, dataIndex: string, show: (v: number) => string) => ({
  title,
  dataIndex,
  align: 'right' as const,
  render: (v: number | undefined) => show(v ?? 0),
});
