/**
 * A feed mark: intake's word that every event of one feed (an agency's
 * enforcement cases, or the reviews of its decisions) dated before `before`
 * is stored, and on the case-events topic by the time the mark is. A
 * SubmitEvents stream marks its feeds when its items settle: the events it
 * stores carry how far the stream was stored then (`feed_floor`), which items
 * still under way held back; the mark says how far it got once they were
 * through, so the feed's last events need no later one to be judged by.
 */
export interface FeedMark {
  /** `<agency id>|<case type number>`, as the rules name their feeds. */
  readonly feed: string;
  /** Milliseconds since the epoch. */
  readonly before: number;
}

/** A feed's name: the agency and the case type its events carry. */
export const feedOf = (agencyId: string, caseType: number): string => `${agencyId}|${caseType}`;

/** The largest feed name a mark may carry (an agency id is at most 128 characters). */
const MAX_FEED = 200;

export function encodeFeedMark(m: FeedMark): { key: string; value: string } {
  return { key: m.feed, value: JSON.stringify({ feed: m.feed, before: m.before }) };
}

/** A mark read from the topic, or why it is not one (the reader skips it). */
export function decodeFeedMark(value: Buffer | null): FeedMark | string {
  if (!value) return 'no value';
  let x: unknown;
  try {
    x = JSON.parse(value.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const { feed, before } = (x ?? {}) as { feed?: unknown; before?: unknown };
  if (typeof feed !== 'string' || !/^[^|]+\|\d+$/.test(feed) || feed.length > MAX_FEED)
    return 'feed: not "<agency>|<case type>"';
  if (typeof before !== 'number' || !Number.isSafeInteger(before) || before < 0)
    return 'before: not a time in milliseconds';
  return { feed, before };
}
