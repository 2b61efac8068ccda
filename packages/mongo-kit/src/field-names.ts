/**
 * A key of one's own (a feed's name, a case id) as one part of a document's
 * field path, and back. A part may hold no dot and not start with a dollar
 * sign, so `.` and `$` are written `%2E` and `%24`, and `%` itself `%25`.
 * FerretDB also refuses a part that begins or ends with white space ("contains
 * an empty field name"; MongoDB takes it), so white space at either end is
 * written as its code too (`%20`, `%u3000`). Before 2026-12-06 an agency id
 * beginning with a space stopped scoring's partition for good (its feed's
 * time in the rules' clock), and a held case id ending with one failed its
 * ingress partition's ledger write.
 */
export const asFieldName = (key: string): string =>
  key
    .replace(/%/g, '%25')
    .replace(/\./g, '%2E')
    .replace(/\$/g, '%24')
    .replace(/^\s+|\s+$/gu, (ends) => [...ends].map(escaped).join(''));

const escaped = (c: string): string => {
  const code = c.codePointAt(0) ?? 0;
  return code < 0x100
    ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
    : `%u${code.toString(16).toUpperCase().padStart(4, '0')}`;
};

/** The key `asFieldName` wrote as `field` (read in one pass: `%25` is a `%` that begins nothing). */
export const fromFieldName = (field: string): string =>
  field.replace(/%(?:u([0-9A-F]{4})|([0-9A-F]{2}))/g, (_, wide?: string, narrow?: string) =>
    String.fromCodePoint(parseInt(wide ?? narrow ?? '', 16)),
  );
