import { credentials } from '@grpc/grpc-js';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { intake, scoring } from '@enforcement/contracts';
import { Topics, type TopicNames } from '@enforcement/messaging';
import {
  createSupervisionScoring,
  loadScoringConfig,
  type SupervisionScoring,
} from '@enforcement/supervision-scoring';
import { serviceEnv, uniqueName } from '@enforcement/testing';

export interface System {
  readonly intake: CaseIntake;
  readonly scoring: SupervisionScoring;
  readonly intakeClient: intake.CaseIntakeServiceClient;
  readonly scoringClient: scoring.ScoringServiceClient;
  readonly topics: TopicNames;
  stop(): Promise<void>;
}

/** case-intake and supervision-scoring in this process, on the real stack, with their own topics and databases. */
export async function startSystem(
  o: { scoringEnv?: Record<string, string> } = {},
): Promise<System> {
  const run = uniqueName('sys');
  const topics: TopicNames = {
    ...Topics,
    caseEvents: `${run}.case-events`,
    intakeSubmissions: `${run}.submissions`,
    intakeReceipts: `${run}.receipts`,
    intakeDeadLetter: `${run}.intake-dlq`,
    scoringDeadLetter: `${run}.scoring-dlq`,
    scores: `${run}.scores`,
  };
  const db = run.replace(/-/g, '_');
  const common = serviceEnv(run);
  const quiet = () => undefined;
  const intakeSvc = await createCaseIntake(
    loadIntakeConfig({
      ...common,
      MONGODB_DB: `${db}_intake`,
      EVENT_STORE_BUCKETS: '8',
      CASE_EVENTS_PARTITIONS: '3',
      INGRESS_ENABLED: 'false',
    }),
    { topics, log: quiet },
  );
  const scoringSvc = await createSupervisionScoring(
    loadScoringConfig({
      ...common,
      MONGODB_DB: `${db}_scoring`,
      READ_MODEL_BUCKETS: '4',
      RULES_TICK_MS: '0',
      INTAKE_ADDRESS: intakeSvc.address,
      SCORING_GROUP: `${run}.scoring`,
      ...o.scoringEnv,
    }),
    { topics, log: quiet },
  );
  const intakeClient = new intake.CaseIntakeServiceClient(
    intakeSvc.address,
    credentials.createInsecure(),
  );
  const scoringClient = new scoring.ScoringServiceClient(
    scoringSvc.address,
    credentials.createInsecure(),
  );
  return {
    intake: intakeSvc,
    scoring: scoringSvc,
    intakeClient,
    scoringClient,
    topics,
    stop: async () => {
      intakeClient.close();
      scoringClient.close();
      await scoringSvc.stop();
      await intakeSvc.stop();
    },
  };
}

export { tokenFor, unary } from '@enforcement/testing';
