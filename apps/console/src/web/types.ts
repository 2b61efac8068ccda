// The JSON the console's backend serves: the contracts' messages as
// ts-proto writes them (camelCase; fields at their default are left out).

export interface Me {
  subject: string;
  roles: ('agency' | 'supervisor' | 'reporting')[];
  agencies: string[];
  can: { supervise: boolean; answer: boolean; operate: boolean; report: boolean };
  defaultYear: number;
}

export interface Statistics {
  key?: string;
  casesRegistered?: number;
  casesConcluded?: number;
  closureRate?: number;
  closureRateInYear?: number;
  meanHandlingDays?: number;
  overdueCases?: number;
  penalties?: number;
  penaltyTotalFen?: number;
  discretionAnomalies?: number;
  ordersOpened?: number;
  ordersAnsweredOnTime?: number;
  ordersEscalated?: number;
  ordersAwaiting?: number;
  reconsiderationsAccepted?: number;
  correctionRate?: number;
  meanScore?: number;
  rank?: number;
  onTimeRate?: number;
}

export interface AnnualStatistics {
  year?: number;
  overall?: Statistics;
  groups?: Statistics[];
  position?: number;
  asOf?: string;
  digest?: string;
  basis?: string;
  recordedThrough?: string;
}

export interface YearFigures {
  overall: AnnualStatistics;
  agency: AnnualStatistics;
  district: AnnualStatistics;
  month: AnnualStatistics;
}

export interface ScoreRow {
  rank?: number;
  key?: string;
  label?: string;
  meanScore?: number;
  cases?: number;
  correctedCases?: number;
  indicatorMeans?: Record<string, number>;
}

export interface ScoresPage {
  rows?: ScoreRow[];
  nextPageToken?: string;
  totalGroups?: number;
}

export interface Order {
  orderId?: string;
  caseId?: string;
  agencyId?: string;
  reason?: string;
  status?: string;
  level?: number;
  openedAt?: string;
  responseDueAt?: string;
  answeredAt?: string;
  overdue?: boolean;
  ruleId?: string;
  escalated?: boolean;
  /** The rules' actions on it that its case's history no longer calls for (late data). */
  unwarrantedActions?: string[];
  /** The case's version this state stands at: the greater is the later (absent when unknown). */
  caseVersion?: number;
}

export interface OrdersPage {
  orders?: Order[];
  nextPageToken?: string;
}

export interface Indicator {
  indicator?: string;
  points?: number;
  maxPoints?: number;
  reasons?: string[];
  eventIds?: string[];
  /** reasons[i] as a code and its figures (none for an evaluator's own words). */
  reasonDetails?: { code?: string; args?: Record<string, string> }[];
}

export interface CaseScore {
  caseId?: string;
  agencyId?: string;
  district?: string;
  unitId?: string;
  officerIds?: string[];
  score?: number;
  modelVersion?: string;
  indicators?: Indicator[];
  concludedAt?: string;
  corrected?: boolean;
  /** The case's version this score stands at: the greater is the later (absent when unknown). */
  caseVersion?: number;
}

export interface CaseEvent {
  eventId?: string;
  caseId?: string;
  version?: number;
  position?: number;
  occurredAt?: string;
  recordedAt?: string;
  actor?: string;
  agencyId?: string;
  hash?: string;
  payload?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface CaseDetail {
  case?: {
    caseId?: string;
    caseType?: string;
    status?: string;
    version?: number;
    agencyId?: string;
    district?: string;
    domain?: string;
    violationCode?: string;
    unitId?: string;
    officers?: { officerId?: string; name?: string }[];
    registeredAt?: string;
    dueAt?: string;
    orders?: {
      orderId?: string;
      reason?: string;
      open?: boolean;
      level?: number;
      responseDueAt?: string;
    }[];
    fineFen?: number;
    discretionAnomaly?: boolean;
    headHash?: string;
    enforcementCaseId?: string;
    reviewOutcome?: string;
  };
  history?: CaseEvent[];
  /** The first version GetCase left out of a history too large for one answer (absent when whole). */
  historyNextVersion?: number;
  integrity?: {
    valid?: boolean;
    eventCount?: number;
    headHash?: string;
    firstBadVersion?: number;
    problem?: string;
    checkpointVersion?: number;
  };
  score: CaseScore | null;
  /** Per order id, the rules' actions on it that the case's history no longer calls for (late data). */
  unwarranted?: Record<string, string[]>;
}

export interface Operations {
  projection: {
    generation?: number;
    lag?: number;
    partitions?: { partition?: number; lag?: number }[];
    lastRecordedAt?: string;
    parked?: {
      caseId?: string;
      agencyId?: string;
      reason?: string;
      heldEvents?: number;
      parkedAt?: string;
    }[];
    parkedTotal?: number;
    rebuilding?: boolean;
    rebuildGeneration?: number;
    rebuildStartedAt?: string;
    rebuildEventsApplied?: number;
  };
  rules: {
    clock?: string;
    agencies?: {
      agencyId?: string;
      judgedUpTo?: string;
      casesDue?: number;
      ordersUnwarranted?: number;
    }[];
    casesDue?: number;
    ordersUnwarranted?: number;
    lastPassAt?: string;
    actionsSent?: number;
    actionsRefused?: number;
    actionsFailed?: number;
    lastAcceptedAt?: string;
    lastTroubleAt?: string;
    lastTrouble?: string;
  };
  services: {
    name: string;
    up: boolean;
    version?: string;
    commit?: string;
    startedAt?: string;
    error?: string;
  }[];
}

export interface Reference {
  agencies: { id: string; name: string; domain: number }[];
  districts: string[];
}

export interface CaseSummary {
  caseId?: string;
  agencyId?: string;
  district?: string;
  unitId?: string;
  officerIds?: string[];
  registeredAt?: string;
  concludedAt?: string;
  dueAt?: string;
  overdue?: boolean;
  fineFen?: number;
  discretionAnomaly?: boolean;
  orders?: number;
  score?: number;
  evaluated?: boolean;
  kind?: string;
  accepted?: boolean;
  corrected?: boolean;
  aboutCaseId?: string;
}

export interface CasesPage {
  cases?: CaseSummary[];
  nextPageToken?: string;
  total?: number;
}
