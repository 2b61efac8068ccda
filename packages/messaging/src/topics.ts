/** Topic names, versioned with the contracts they carry. */
export const Topics = {
  /** Every accepted case event; key = case id; value = enforcement.events.v1.CaseEvent (binary). */
  caseEvents: 'enforcement.case-events.v1',
  /** Agency feeds publishing commands; value = enforcement.intake.v1.SubmitEventsRequest (JSON or binary). */
  intakeSubmissions: 'enforcement.intake.submissions.v1',
  /** One receipt per submission; value = enforcement.intake.v1.SubmitEventsResponse (JSON). */
  intakeReceipts: 'enforcement.intake.receipts.v1',
  /** Submissions that could not be decoded, with the reason in headers. */
  intakeDeadLetter: 'enforcement.intake.submissions.dlq.v1',
  /** Case events the scoring projection could not decode or apply, with the reason. */
  scoringDeadLetter: 'enforcement.case-events.scoring-dlq.v1',
  /** Case events the reporting projection could not decode or apply, with the reason. */
  reportingDeadLetter: 'enforcement.case-events.reporting-dlq.v1',
  /**
   * Compacted: the head (version and keyed hash) of every case as intake
   * published it, with a MAC; key = case id. Tamper evidence outside the
   * database (docs/security.md).
   */
  caseCheckpoints: 'enforcement.case-checkpoints.v1',
  /**
   * Compacted: how far each agency feed is stored, as intake marks it when a
   * stream's items of the feed have settled; key = feed, value = FeedMark
   * (JSON, feed-marks.ts). Published after the events it covers.
   */
  feedMarks: 'enforcement.feed-marks.v1',
  /** Every case score as it changes; value = enforcement.scoring.v1.CaseScore (binary). */
  scores: 'enforcement.scores.v1',
} as const;

/** Topic names a service uses; tests and multi-tenant runs substitute their own. */
export type TopicNames = { readonly [K in keyof typeof Topics]: string };

export const Header = {
  eventId: 'event-id',
  eventType: 'event-type',
  schemaVersion: 'schema-version',
  caseVersion: 'case-version',
  position: 'position',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  contentType: 'content-type',
  error: 'error',
  errorCode: 'error-code',
} as const;

/** Every topic name under a namespace (`<ns>.<name>`); the names themselves when it is empty. */
export function namespaced(ns: string): TopicNames {
  if (!ns) return { ...Topics };
  return Object.fromEntries(
    Object.entries(Topics).map(([k, name]) => [k, `${ns}.${name}`]),
  ) as unknown as TopicNames;
}

/**
 * A consumer group under a namespace (`<ns>.<group>`), so separate worlds on
 * one broker never share a group; a name already under it stays as it is.
 */
export function namespacedGroup(ns: string, group: string): string {
  if (!ns || group.startsWith(`${ns}.`)) return group;
  return `${ns}.${group}`;
}
