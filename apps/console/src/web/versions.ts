/**
 * Of two states of one case's score or order, the later: the greater case
 * version, else the one that came last (`next`). Scoring's instances can
 * deliver a case's updates out of order (a partition moving between them);
 * an update older than what the page shows changes nothing. A version left
 * out (0, unknown) counts as older than any known one.
 */
export function later<T extends { caseVersion?: number }>(shown: T | undefined, next: T): T {
  return shown && (shown.caseVersion ?? 0) > (next.caseVersion ?? 0) ? shown : next;
}
