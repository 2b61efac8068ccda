import { events, type intake } from '@enforcement/contracts';
import { enumValues, notBefore, required, specified } from './checks.js';
import { fail } from './errors.js';
import { isCorrection, type ReviewCase } from './state.js';
import type { DecideContext, EventPayload } from './types.js';

const KINDS = enumValues(events.ReviewKind);
const DOMAINS = enumValues(events.Domain);
const OUTCOMES = enumValues(events.ReviewOutcome);

export function file(r: intake.FileReconsiderationRequest): EventPayload[] {
  return [
    {
      $case: 'reconsiderationFiled',
      value: {
        kind: specified(r.kind, 'kind', KINDS),
        enforcementCaseId: required(r.enforcementCaseId, 'enforcement_case_id'),
        respondentAgencyId: required(r.respondentAgencyId, 'respondent_agency_id'),
        applicant: required(r.applicant, 'applicant'),
        district: required(r.district, 'district'),
        domain: specified(r.domain, 'domain', DOMAINS),
        claims: r.claims,
      },
    },
  ];
}

export function accept(
  s: ReviewCase,
  r: intake.AcceptReconsiderationRequest,
  ctx: DecideContext,
): EventPayload[] {
  if (s.status !== 'REVIEW_FILED')
    fail(
      'CASE.INVALID_TRANSITION',
      `cannot accept a review in status ${s.status} (allowed: REVIEW_FILED)`,
    );
  notBefore(ctx.occurredAt, s.filedAt, 'the review was filed');
  return [
    { $case: 'reconsiderationAccepted', value: { handledBy: required(r.handledBy, 'handled_by') } },
  ];
}

export function conclude(
  s: ReviewCase,
  r: intake.ConcludeReconsiderationRequest,
  ctx: DecideContext,
): EventPayload[] {
  if (s.status !== 'REVIEW_ACCEPTED')
    fail(
      'CASE.INVALID_TRANSITION',
      `cannot conclude a review in status ${s.status} (allowed: REVIEW_ACCEPTED)`,
    );
  notBefore(ctx.occurredAt, s.acceptedAt, 'the review was accepted');
  const outcome = specified(r.outcome, 'outcome', OUTCOMES);
  return [
    {
      $case: 'reconsiderationConcluded',
      value: {
        outcome,
        corrected: isCorrection(outcome),
        summary: r.summary,
        enforcementCaseId: s.enforcementCaseId,
      },
    },
  ];
}
