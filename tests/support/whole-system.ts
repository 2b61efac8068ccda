import { credentials, type Metadata } from '@grpc/grpc-js';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { clientChannelOptions } from '@enforcement/grpc-kit';
import { namespaced, type TopicNames } from '@enforcement/messaging';
import { createReporting, loadReportingConfig, type Reporting } from '@enforcement/reporting';
import {
  createSupervisionScoring,
  loadScoringConfig,
  type SupervisionScoring,
} from '@enforcement/supervision-scoring';
import { eventually, serviceEnv, unary, uniqueName } from '@enforcement/testing';

export interface WholeSystem {
  readonly intake: CaseIntake;
  readonly scoring: SupervisionScoring;
  readonly reporting: Reporting;
  readonly intakeClient: intake.CaseIntakeServiceClient;
  readonly scoringClient: scoring.ScoringServiceClient;
  readonly reportingClient: reporting.ReportingServiceClient;
  readonly topics: TopicNames;
  /** The name its topics, groups and databases are under (`<run>_intake`, … for databases). */
  readonly run: string;
  /**
   * A new case-intake on the same store, topics and address, once `intake`
   * is stopped: a restart, as the other services see it. `stop` stops the
   * one started last (and each service only once, whoever stopped it first).
   */
  startIntakeAgain(): Promise<CaseIntake>;
  /**
   * Another case-intake on the same store and topics, on a port of its own,
   * as an agency's client finds when it fails over. `relay: 'off'` keeps
   * what it stores off Kafka, as an instance that crashed before publishing:
   * only the first instance's sweep publishes it. The caller stops it.
   */
  startIntakeBeside(o?: { relay?: 'on' | 'off' }): Promise<CaseIntake>;
  /** The same for supervision-scoring: its store, topics, group and address. */
  startScoringAgain(): Promise<SupervisionScoring>;
  /** Another supervision-scoring in the same group, on a port of its own: the partitions are shared. The caller stops it. */
  startScoringBeside(): Promise<SupervisionScoring>;
  stop(): Promise<void>;
}

const portOf = (address: string) => address.split(':').pop() ?? '0';

/** Stops once, however often asked: a test may stop a service itself before the system stops. */
function stopsOnce<T extends { stop(): Promise<void> }>(svc: T): T {
  const stop = svc.stop.bind(svc);
  let stopping: Promise<void> | undefined;
  svc.stop = () => (stopping ??= stop());
  return svc;
}

/**
 * All three services in this process on the real stack, with their own
 * topics and databases. `rulesTickMs` 0 leaves the supervision rules off (the
 * scores are still computed), so a generated year's orders and evaluations are
 * exactly the generator's. Started again with the same `run`, the services
 * find the same topics and databases.
 */
export async function startWholeSystem(
  o: {
    rulesTickMs?: number;
    scoringEnv?: Record<string, string>;
    intakeEnv?: Record<string, string>;
    reportingEnv?: Record<string, string>;
    /** Topics scoring uses in place of the system's (a case-events topic the test writes). */
    scoringTopics?: Partial<TopicNames>;
    run?: string;
  } = {},
): Promise<WholeSystem> {
  const run = o.run ?? uniqueName('e2e');
  const topics: TopicNames = {
    ...namespaced(run),
    caseEvents: `${run}.case-events`,
    intakeSubmissions: `${run}.submissions`,
    intakeReceipts: `${run}.receipts`,
    intakeDeadLetter: `${run}.intake-dlq`,
    scoringDeadLetter: `${run}.scoring-dlq`,
    reportingDeadLetter: `${run}.reporting-dlq`,
    scores: `${run}.scores`,
  };
  const db = run.replace(/-/g, '_');
  const common = serviceEnv(run);
  const quiet = () => undefined;
  const intakeAt = (port: string, relay?: 'on' | 'off') =>
    createCaseIntake(
      loadIntakeConfig({
        ...common,
        GRPC_PORT: port,
        MONGODB_DB: `${db}_intake`,
        EVENT_STORE_BUCKETS: '8',
        CASE_EVENTS_PARTITIONS: '4',
        INGRESS_ENABLED: 'false',
        ...o.intakeEnv,
      }),
      { topics, log: quiet, relay },
    );
  const intakeSvc = stopsOnce(await intakeAt(common.GRPC_PORT ?? '0'));
  let intakeNow = intakeSvc;
  const scoringAt = (port: string) =>
    createSupervisionScoring(
      loadScoringConfig({
        ...common,
        GRPC_PORT: port,
        MONGODB_DB: `${db}_scoring`,
        READ_MODEL_BUCKETS: '8',
        RULES_TICK_MS: String(o.rulesTickMs ?? 0),
        INTAKE_ADDRESS: intakeSvc.address,
        SCORING_GROUP: `${run}.scoring`,
        ...o.scoringEnv,
      }),
      { topics: { ...topics, ...o.scoringTopics }, log: quiet },
    );
  const scoringSvc = stopsOnce(await scoringAt(common.GRPC_PORT ?? '0'));
  let scoringNow = scoringSvc;
  const reportingSvc = await createReporting(
    loadReportingConfig({
      ...common,
      MONGODB_DB: `${db}_reporting`,
      REPORTING_GROUP: `${run}.reporting`,
      REPORTING_SETTLE_MS: '500',
      ...o.reportingEnv,
    }),
    { topics, log: quiet },
  );
  const insecure = credentials.createInsecure();
  // The tests' clients reconnect as the services' own do.
  const intakeClient = new intake.CaseIntakeServiceClient(
    intakeSvc.address,
    insecure,
    clientChannelOptions,
  );
  const scoringClient = new scoring.ScoringServiceClient(
    scoringSvc.address,
    insecure,
    clientChannelOptions,
  );
  const reportingClient = new reporting.ReportingServiceClient(
    reportingSvc.address,
    insecure,
    clientChannelOptions,
  );
  return {
    intake: intakeSvc,
    scoring: scoringSvc,
    reporting: reportingSvc,
    intakeClient,
    scoringClient,
    reportingClient,
    topics,
    run,
    startIntakeAgain: async () =>
      (intakeNow = stopsOnce(await intakeAt(portOf(intakeSvc.address)))),
    startIntakeBeside: (b = {}) => intakeAt('0', b.relay),
    startScoringAgain: async () =>
      (scoringNow = stopsOnce(await scoringAt(portOf(scoringSvc.address)))),
    startScoringBeside: () => scoringAt('0'),
    stop: async () => {
      intakeClient.close();
      scoringClient.close();
      reportingClient.close();
      await reportingSvc.stop();
      await scoringNow.stop();
      await intakeNow.stop();
    },
  };
}

/**
 * Waits until reporting has answered `year` as of a moment after
 * `submittedBy` and scoring's projection reads no lag: what was submitted
 * before then is in both read models (what intake still relays may move them
 * a moment longer).
 */
export async function caughtUp(
  sys: WholeSystem,
  md: Metadata,
  year: number,
  submittedBy: Date,
): Promise<void> {
  await eventually(
    async () => {
      const [s, p] = await Promise.all([
        unary<reporting.GetAnnualStatisticsResponse>((cb) =>
          sys.reportingClient.getAnnualStatistics(
            reporting.GetAnnualStatisticsRequest.fromPartial({ year }),
            md,
            cb,
          ),
        ),
        unary<scoring.GetProjectionStatusResponse>((cb) =>
          sys.scoringClient.getProjectionStatus({}, md, cb),
        ),
      ]);
      return s.asOf && s.asOf > submittedBy && p.lag === 0 ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500, what: 'reporting and scoring to catch up' },
  );
}
