import { credentials } from '@grpc/grpc-js';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { intake, reporting } from '@enforcement/contracts';
import { Topics, type TopicNames } from '@enforcement/messaging';
import { createReporting, loadReportingConfig, type Reporting } from '@enforcement/reporting';
import { serviceEnv, uniqueName } from '@enforcement/testing';

export interface ReportingSystem {
  readonly intake: CaseIntake;
  readonly reporting: Reporting;
  readonly intakeClient: intake.CaseIntakeServiceClient;
  readonly reportingClient: reporting.ReportingServiceClient;
  readonly topics: TopicNames;
  stop(): Promise<void>;
}

/** case-intake and reporting in this process, on the real stack, with their own topics and databases. */
export async function startReportingSystem(): Promise<ReportingSystem> {
  const run = uniqueName('rep');
  const topics: TopicNames = {
    ...Topics,
    caseEvents: `${run}.case-events`,
    intakeSubmissions: `${run}.submissions`,
    intakeReceipts: `${run}.receipts`,
    intakeDeadLetter: `${run}.intake-dlq`,
    reportingDeadLetter: `${run}.reporting-dlq`,
  };
  const db = run.replace(/-/g, '_');
  const common = serviceEnv(run);
  const quiet = () => undefined;
  const intakeSvc = await createCaseIntake(
    loadIntakeConfig({
      ...common,
      MONGODB_DB: `${db}_intake`,
      EVENT_STORE_BUCKETS: '8',
      CASE_EVENTS_PARTITIONS: '4',
      INGRESS_ENABLED: 'false',
    }),
    { topics, log: quiet },
  );
  const reportingSvc = await createReporting(
    loadReportingConfig({
      ...common,
      MONGODB_DB: `${db}_reporting`,
      REPORTING_GROUP: `${run}.reporting`,
      REPORTING_SETTLE_MS: '500',
    }),
    { topics, log: quiet },
  );
  const intakeClient = new intake.CaseIntakeServiceClient(
    intakeSvc.address,
    credentials.createInsecure(),
  );
  const reportingClient = new reporting.ReportingServiceClient(
    reportingSvc.address,
    credentials.createInsecure(),
  );
  return {
    intake: intakeSvc,
    reporting: reportingSvc,
    intakeClient,
    reportingClient,
    topics,
    stop: async () => {
      intakeClient.close();
      reportingClient.close();
      await reportingSvc.stop();
      await intakeSvc.stop();
    },
  };
}
