import { DomainError, type ErrorKind } from '@enforcement/errors';

/**
 * Every rule intake enforces, with its stable code and the kind of failure.
 * Clients branch on the code; transports map the kind to a status.
 */
export const Rules = {
  'CASE.ALREADY_EXISTS': 'ALREADY_EXISTS',
  'CASE.NOT_FOUND': 'NOT_FOUND',
  'CASE.ARCHIVED': 'PRECONDITION',
  'CASE.INVALID_TRANSITION': 'PRECONDITION',
  'CASE.WRONG_TYPE': 'PRECONDITION',
  'CASE.VERSION_CONFLICT': 'CONFLICT',
  'CASE.HISTORY_BROKEN': 'PRECONDITION',
  'COMMAND.ID_REUSED': 'ALREADY_EXISTS',
  'FIELD.TOO_LARGE': 'INVALID',
  'TIME.OUT_OF_RANGE': 'INVALID',
  'FIELD.REQUIRED': 'INVALID',
  'FIELD.INVALID': 'INVALID',
  'TIME.IN_FUTURE': 'INVALID',
  'TIME.BEFORE_REGISTRATION': 'INVALID',
  'DISPATCH.TOO_FEW_OFFICERS': 'INVALID',
  'DISPATCH.TOO_MANY_OFFICERS': 'INVALID',
  'DISPATCH.OFFICER_NOT_CERTIFIED': 'INVALID',
  'DISPATCH.DUPLICATE_OFFICER': 'INVALID',
  'PROGRESS.UNKNOWN_OFFICER': 'INVALID',
  'EVIDENCE.BAD_DIGEST': 'INVALID',
  'EVIDENCE.DUPLICATE': 'ALREADY_EXISTS',
  'EVIDENCE.TOO_MANY': 'PRECONDITION',
  'EVIDENCE.COLLECTED_IN_FUTURE': 'INVALID',
  'HEARING.NOT_OFFERED': 'PRECONDITION',
  'DEADLINE.NOT_LATER': 'INVALID',
  'PENALTY.UNKNOWN_VIOLATION': 'INVALID',
  'PENALTY.OUTSIDE_STATUTORY_RANGE': 'INVALID',
  'PENALTY.OUTSIDE_BENCHMARK': 'PRECONDITION',
  'PENALTY.NOTICE_REQUIRED': 'PRECONDITION',
  'PENALTY.HEARING_NOT_OFFERED': 'PRECONDITION',
  'PENALTY.HEARING_PENDING': 'PRECONDITION',
  'CONCLUDE.DECISION_REQUIRED': 'PRECONDITION',
  'ORDER.DUPLICATE': 'ALREADY_EXISTS',
  'ORDER.NOT_FOUND': 'NOT_FOUND',
  'ORDER.NOT_OPEN': 'PRECONDITION',
  'ORDER.DUE_BEFORE_OPENED': 'INVALID',
  'EVALUATION.SCORE_OUT_OF_RANGE': 'INVALID',
  'ARCHIVE.NOT_EVALUATED': 'PRECONDITION',
  'ARCHIVE.OPEN_ORDERS': 'PRECONDITION',
  'REVIEW.UNKNOWN_CASE': 'NOT_FOUND',
  'AUTH.UNAUTHENTICATED': 'UNAUTHENTICATED',
  'AUTH.FORBIDDEN': 'FORBIDDEN',
} as const satisfies Record<string, ErrorKind>;

export type RuleCode = keyof typeof Rules;

export class RuleViolation extends DomainError {
  override readonly code: RuleCode;
  constructor(code: RuleCode, message: string, field?: string) {
    super(code, Rules[code], field ? `${field}: ${message}` : message, field);
    this.name = 'RuleViolation';
    this.code = code;
  }
}

export const fail = (code: RuleCode, message: string, field?: string): never => {
  throw new RuleViolation(code, message, field);
};
