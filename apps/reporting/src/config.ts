import {
  authSpec,
  grpcSpec,
  infraSpec,
  integer,
  loadConfig,
  projectionSpec,
  serviceSpec,
  string,
  type ConfigOf,
} from '@enforcement/config';
import { WAITING_LIMIT_BYTES } from './application/projector.js';

export const reportingSpec = {
  ...infraSpec,
  ...grpcSpec,
  ...authSpec,
  ...serviceSpec,
  ...projectionSpec,
  GRPC_PORT: integer({ default: 50053, min: 0, max: 65535 }),
  MONGODB_DB: string({ default: 'enforcement_reporting' }),
  REPORTING_GROUP: string({ default: 'enforcement.reporting' }),
  PARTITIONS_CONSUMED_CONCURRENTLY: integer({ default: 2, min: 1, max: 64 }),
  /**
   * The most a case's facts hold of events waiting for an earlier version,
   * in bytes; beyond it an event is dead-lettered (`store republish` sends
   * it again once the gap is mended).
   */
  CASE_WAITING_LIMIT_BYTES: integer({ default: WAITING_LIMIT_BYTES, min: 1_024, max: 512 * 1024 }),
  /** A caught-up partition counts as complete up to now minus this (events reach Kafka after intake records them). */
  REPORTING_SETTLE_MS: integer({ default: 2_000, min: 0 }),
  /** The office named on the annual report's title page (default: the city's supervision office). */
  REPORT_ISSUER: string({ default: '' }),
};

export type ReportingConfig = ConfigOf<typeof reportingSpec>;

export const loadReportingConfig = (
  env: Record<string, string | undefined> = process.env,
): ReportingConfig => loadConfig(reportingSpec, env);
