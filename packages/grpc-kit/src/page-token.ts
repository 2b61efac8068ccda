import { invalid } from '@enforcement/errors';

/**
 * Where a page of a listing starts: after the entry with this moment and id
 * in the listing's order (a keyset), or, for tokens issued before keysets,
 * at this position. A walk by keyset shows each entry at most once and in
 * order while the listing gains or loses entries ahead of its place; a
 * position moves with them.
 */
export type PageCursor =
  { readonly afterMs: number; readonly afterId: string } | { readonly offset: number };

const AFTER = 'after:';
/** The latest moment a JavaScript date holds (ms): a cursor past it names no entry. */
const LAST_MOMENT = 8.64e15;

/** The page token for the page after the entry with this moment and id. */
export const tokenAfter = (ms: number, id: string): string =>
  Buffer.from(`${AFTER}${ms}:${id}`).toString('base64url');

/**
 * The cursor a page token names; '' is the start. A token not issued by
 * `tokenAfter` (nor a position, as tokens were before) is INVALID_ARGUMENT
 * with `code`, naming page_token.
 */
export function cursorOf(token: string, code: string): PageCursor {
  if (!token) return { offset: 0 };
  const text = Buffer.from(token, 'base64url').toString();
  const refused = () => invalid(code, 'page_token', 'not a token this service issued');
  if (text.startsWith(AFTER)) {
    const rest = text.slice(AFTER.length);
    const colon = rest.indexOf(':');
    const afterMs = Number(rest.slice(0, colon));
    const afterId = rest.slice(colon + 1);
    if (colon < 1 || !Number.isInteger(afterMs) || afterMs < 0 || afterMs > LAST_MOMENT || !afterId)
      throw refused();
    return { afterMs, afterId };
  }
  if (!/^[0-9]{1,9}$/.test(text)) throw refused();
  return { offset: Number(text) };
}
