import {
  boolean,
  grpcSpec,
  infraSpec,
  integer,
  loadConfig,
  string,
  type ConfigOf,
  authSpec,
  serviceSpec,
} from '@enforcement/config';

export const intakeSpec = {
  ...infraSpec,
  ...grpcSpec,
  ...authSpec,
  ...serviceSpec,
  GRPC_PORT: integer({ default: 50051, min: 0, max: 65535 }),
  MONGODB_DB: string({ default: 'enforcement_intake' }),
  /** Commit buckets; 0 (the default) means the store's own count, or 1 for a new store. */
  EVENT_STORE_BUCKETS: integer({ default: 0, min: 0, max: 4096 }),
  POSITION_BLOCK: integer({ default: 1000, min: 1 }),
  HEAD_CACHE_SIZE: integer({ default: 20_000, min: 0 }),
  /** The head cache's budget in estimated bytes (whichever of count and bytes is reached first). */
  HEAD_CACHE_BYTES: integer({ default: 64 * 1024 * 1024, min: 1024 * 1024 }),
  SUBMIT_MAX_IN_FLIGHT: integer({ default: 512, min: 1, max: 10_000 }),
  /**
   * How long a server stream (SubmitEvents' acknowledgements, ReadStream,
   * ReadAll, AuditStore) waits for its caller to take what it wrote (ms):
   * then it ends RESOURCE_EXHAUSTED (`STREAM.READER_STALLED`) and lets go of
   * what it held for the caller.
   */
  STREAM_STALL_MS: integer({ default: 60_000, min: 100 }),
  /**
   * How long a SubmitEvents stream whose sender sends nothing keeps holding
   * back the feeds it sent (ms): a feed sent over several streams at once is
   * judged no further than the slowest, until that one ends or is idle this
   * long (docs/scoring.md, "The rules' clock").
   */
  STREAM_IDLE_MS: integer({ default: 300_000, min: 100 }),
  /**
   * How often this instance shares its SubmitEvents streams' holds with the
   * other instances on its store, and reads theirs (ms), and how long an
   * instance that stopped sharing still holds (docs/scoring.md, "The rules'
   * clock").
   */
  STREAM_HOLDS_EVERY_MS: integer({ default: 250, min: 10 }),
  STREAM_HOLDS_LEASE_MS: integer({ default: 10_000, min: 100 }),
  RELAY_BATCH: integer({ default: 500, min: 1 }),
  RELAY_SWEEP_AFTER_MS: integer({ default: 30_000, min: 0 }),
  CASE_EVENTS_PARTITIONS: integer({ default: 12, min: 1 }),
  /** Largest encoded case event accepted: the topic's max.message.bytes (1 MiB by default) less room for key, headers and batch framing. */
  MAX_EVENT_BYTES: integer({ default: 1_000_000, min: 1_024 }),
  /** Most bytes of events a GetCase answer carries; a longer history is cut there and read on with ReadStream. */
  GET_CASE_HISTORY_BYTES: integer({ default: 3 * 1024 * 1024, min: 1_024 }),
  /** Largest gRPC request (one SubmitEvents item, or a unary call). */
  GRPC_MAX_REQUEST_BYTES: integer({ default: 4 * 1024 * 1024, min: 1_024 }),
  INGRESS_ENABLED: boolean({ default: true }),
  /** How long (ms) the Kafka ingress may fail to get past a submission before health says NOT_SERVING. */
  INGRESS_STALL_MS: integer({ default: 60_000, min: 1_000 }),
  /** How often the ingress looks again whether a feed it stored may be marked further. */
  INGRESS_MARK_EVERY_MS: integer({ default: 500, min: 10 }),
  /**
   * How long (ms) a released hold stays in the ingress's ledger after it was
   * last written, once the group has committed past its release; then the
   * instance reading its partition deletes it (at a join, and this often
   * between). Far longer than an instance that lost its partition may still
   * write its last batch.
   */
  INGRESS_RELEASED_HOLDS_KEPT_MS: integer({ default: 600_000, min: 0 }),
  /** Chain keys, `id:base64,id:base64` (each at least 32 bytes); required in production. */
  CHAIN_KEYS: string({ default: '-' }),
  /** The key id that hashes new events; the last of CHAIN_KEYS when unset. */
  CHAIN_KEY_ID: string({ default: '-' }),
  /** Accept plain SHA-256 events recorded before chains were keyed (a migration switch). */
  CHAIN_ACCEPT_UNKEYED: boolean({ default: false }),
};

export type IntakeConfig = ConfigOf<typeof intakeSpec>;

export const loadIntakeConfig = (
  env: Record<string, string | undefined> = process.env,
): IntakeConfig => loadConfig(intakeSpec, env);
