/**
 * A key of one's own (a feed's name, an agency id) as a document's field
 * name, and back: a field name may hold no dot and not start with a dollar
 * sign, so `.` and `$` are written `%2E` and `%24`, and `%` itself `%25`.
 */
export const asFieldName = (key: string): string =>
  key.replace(/%/g, '%25').replace(/\./g, '%2E').replace(/\$/g, '%24');

export const fromFieldName = (field: string): string =>
  field.replace(/%2E/g, '.').replace(/%24/g, '$').replace(/%25/g, '%');
