import { Table, Typography } from 'antd';
import type { TableProps } from 'antd';

/**
 * A table wider than the screen scrolls inside a region the keyboard can
 * reach: the region takes focus, so arrow keys scroll it, and it is named for
 * screen readers. antd's own scrolling box cannot take focus, and a table
 * whose rows hold no link (or that is still loading) would trap its columns
 * out of a keyboard user's reach.
 */
export function WideTable<T extends object>({
  label,
  ...props
}: TableProps<T> & { label: string }) {
  return (
    <div role="region" aria-label={label} tabIndex={0} style={{ overflowX: 'auto' }}>
      <Table<T> {...props} />
    </div>
  );
}

/** What a table says when it has no rows, dark enough to read (antd's own grey is below WCAG AA). */
export const emptyText = (text: string) => ({
  emptyText: <Typography.Text type="secondary">{text}</Typography.Text>,
});
