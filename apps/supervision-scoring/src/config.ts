import {
  grpcSpec,
  infraSpec,
  integer,
  loadConfig,
  string,
  type ConfigOf,
  authSpec,
  serviceSpec,
  oneOf,
  projectionSpec,
} from '@enforcement/config';
import { WAITING_LIMIT_BYTES } from './application/projector.js';

export const scoringSpec = {
  ...infraSpec,
  ...grpcSpec,
  ...authSpec,
  ...serviceSpec,
  ...projectionSpec,
  GRPC_PORT: integer({ default: 50052, min: 0, max: 65535 }),
  MONGODB_DB: string({ default: 'enforcement_scoring' }),
  INTAKE_ADDRESS: string({ default: '127.0.0.1:50051' }),
  /** PEM CA file that signs case-intake's certificate: calls go over TLS, presenting GRPC_TLS_CERT/KEY when set (mTLS). */
  INTAKE_TLS_CA: string({ default: '-' }),
  READ_MODEL_BUCKETS: integer({ default: 64, min: 1, max: 4096 }),
  SCORING_GROUP: string({ default: 'enforcement.scoring' }),
  PARTITIONS_CONSUMED_CONCURRENTLY: integer({ default: 4, min: 1, max: 64 }),
  /**
   * The most a case's record holds of events not applied yet (held behind a
   * poison, or waiting for an earlier version), in bytes; beyond it an event
   * is dead-lettered and the case parked, and its release fills the rest
   * from intake's history. 32 records at the bound must fit a 16 MiB page.
   */
  CASE_WAITING_LIMIT_BYTES: integer({ default: WAITING_LIMIT_BYTES, min: 1_024, max: 512 * 1024 }),
  RULES_TICK_MS: integer({ default: 5_000, min: 0 }),
  RULES_APPROACHING_DAYS: integer({ default: 10, min: 0 }),
  RULES_RESPONSE_DAYS: integer({ default: 7, min: 1 }),
  RULES_ESCALATION_RESPONSE_DAYS: integer({ default: 5, min: 1 }),
  /** An unanswered order is escalated by the rules up to this level (1: as opened). */
  RULES_MAX_ESCALATION_LEVEL: integer({ default: 3, min: 1, max: 10 }),
  /** Event ids an evaluation lists per indicator; more are counted in its reasons. Keeps CaseEvaluated under intake's MAX_EVENT_BYTES. */
  RULES_EVALUATION_EVENT_IDS: integer({ default: 1_000, min: 1 }),
  /** How late an agency's events may be recorded after its later ones (ms): the rules judge that far behind. */
  RULES_LATENESS_MS: integer({ default: 0, min: 0 }),
  /** wall: judge deadlines by the clock; events: by the event time applied (for loading history). */
  RULES_CLOCK: oneOf(['wall', 'events'] as const, { default: 'wall' }),
  /**
   * A watcher (WatchScores, WatchSupervisionOrders) whose updates have
   * waited this long without draining (ms) is behind: its watch ends
   * RESOURCE_EXHAUSTED (`WATCH.BEHIND`) rather than keep every update since.
   */
  WATCH_STALL_MS: integer({ default: 10_000, min: 100 }),
  /** ... and so is one with this many updates waiting, whatever the time (what one may hold at most). */
  WATCH_BACKLOG_MAX: integer({ default: 16_384, min: 1, max: 1_000_000 }),
  /** Token the service presents to case-intake; in development minted from the development secret when unset. */
  SCORING_INTAKE_TOKEN: string({ default: '-' }),
  /** A file holding that token, read again every 30 s (the production path: the identity provider rotates it). */
  SCORING_INTAKE_TOKEN_FILE: string({ default: '-' }),
};

export type ScoringConfig = ConfigOf<typeof scoringSpec>;

export const loadScoringConfig = (
  env: Record<string, string | undefined> = process.env,
): ScoringConfig => loadConfig(scoringSpec, env);
