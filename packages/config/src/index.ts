/**
 * Typed configuration from the environment. A spec lists each variable with
 * its parser; `loadConfig` reads them all and reports every problem at once,
 * naming the variable, instead of failing on the first.
 */

export interface Field<T> {
  readonly parse: (raw: string | undefined, name: string) => T;
  readonly describe: string;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

class FieldProblem extends Error {}

const missing = (name: string): never => {
  throw new FieldProblem(`${name} is required but not set`);
};

export function string(opts: { default?: string } = {}): Field<string> {
  return {
    describe: 'string',
    parse: (raw, name) => {
      if (raw !== undefined && raw !== '') return raw;
      return opts.default ?? missing(name);
    },
  };
}

export function integer(
  opts: { default?: number; min?: number; max?: number } = {},
): Field<number> {
  return {
    describe: 'integer',
    parse: (raw, name) => {
      if (raw === undefined || raw === '') return opts.default ?? missing(name);
      const n = Number(raw);
      if (!Number.isInteger(n)) throw new FieldProblem(`${name} must be an integer, got '${raw}'`);
      if (opts.min !== undefined && n < opts.min)
        throw new FieldProblem(`${name} must be at least ${opts.min}, got ${n}`);
      if (opts.max !== undefined && n > opts.max)
        throw new FieldProblem(`${name} must be at most ${opts.max}, got ${n}`);
      return n;
    },
  };
}

export function boolean(opts: { default?: boolean } = {}): Field<boolean> {
  return {
    describe: 'boolean',
    parse: (raw, name) => {
      if (raw === undefined || raw === '') return opts.default ?? missing(name);
      const v = raw.toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new FieldProblem(`${name} must be true or false, got '${raw}'`);
    },
  };
}

export function list(opts: { default?: string[] } = {}): Field<string[]> {
  return {
    describe: 'comma-separated list',
    parse: (raw, name) => {
      const items = (raw ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (items.length > 0) return items;
      return opts.default ?? missing(name);
    },
  };
}

export function oneOf<const T extends string>(
  values: readonly T[],
  opts: { default?: T } = {},
): Field<T> {
  return {
    describe: values.join('|'),
    parse: (raw, name) => {
      if (raw === undefined || raw === '') return opts.default ?? missing(name);
      if ((values as readonly string[]).includes(raw)) return raw as T;
      throw new FieldProblem(`${name} must be one of ${values.join(', ')}, got '${raw}'`);
    },
  };
}

/** A URL whose scheme is one of `schemes`. */
export function url(schemes: readonly string[], opts: { default?: string } = {}): Field<string> {
  return {
    describe: `${schemes.join('|')} URL`,
    parse: (raw, name) => {
      const value = raw === undefined || raw === '' ? (opts.default ?? missing(name)) : raw;
      let parsed: URL;
      try {
        parsed = new URL(value);
      } catch {
        throw new FieldProblem(`${name} must be a URL, got '${value}'`);
      }
      if (!schemes.includes(parsed.protocol.replace(/:$/, '')))
        throw new FieldProblem(
          `${name} must use ${schemes.join(' or ')}, got '${parsed.protocol}'`,
        );
      return value;
    },
  };
}

export type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export function loadConfig<S extends Spec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
): ConfigOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(spec)) {
    try {
      out[name] = field.parse(env[name], name);
    } catch (e) {
      if (e instanceof FieldProblem) problems.push(e.message);
      else throw e;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/** The infrastructure every service talks to. */
export const infraSpec = {
  KAFKA_BROKERS: list(),
  KAFKA_CLIENT_ID: string({ default: 'enforcement' }),
  MONGODB_URI: url(['mongodb', 'mongodb+srv']),
  MONGODB_DB: string({ default: 'enforcement' }),
  /** Prefixed to every topic name (`<ns>.enforcement.case-events.v1`): separate worlds on one broker. */
  TOPIC_NAMESPACE: string({ default: '' }),
} satisfies Spec;

/** Where a gRPC service listens. */
export const grpcSpec = {
  GRPC_HOST: string({ default: '127.0.0.1' }),
  GRPC_PORT: integer({ default: 0, min: 0, max: 65535 }),
  /** PEM certificate chain and key files: the server speaks TLS with them ('-': plaintext). */
  GRPC_TLS_CERT: string({ default: '-' }),
  GRPC_TLS_KEY: string({ default: '-' }),
  /** PEM CA file: every client must present a certificate it signed (mutual TLS). */
  GRPC_TLS_CLIENT_CA: string({ default: '-' }),
  /** Whether server reflection answers; a deployment may turn it off. */
  GRPC_REFLECTION: boolean({ default: true }),
  /** How often health checks the service's dependencies (SERVING only while all answer). */
  HEALTH_CHECK_MS: integer({ default: 2_000, min: 100 }),
  /**
   * How long a database command may wait for its answer before health says
   * NOT_SERVING (a write behind a lock: the store still answers `ping`).
   */
  STORE_STALL_MS: integer({ default: 15_000, min: 1_000 }),
  /**
   * The bytes of requests the server holds at once (decoded, not yet
   * answered); one more is answered UNAVAILABLE (REQUEST.BUSY) undecoded.
   */
  REQUEST_BYTES_IN_FLIGHT: integer({ default: 64 * 1024 * 1024, min: 1024 * 1024 }),
} satisfies Spec;

/**
 * Where the service runs, and how it verifies bearer tokens. ENFORCEMENT_ENV
 * has no default: `development` accepts the published development key
 * (`DEV_AUTH` in @enforcement/auth), `production` requires a JWKS URL or a
 * public key and refuses shared secrets (see @enforcement/auth's
 * verifierConfigFrom).
 */
export const authSpec = {
  ENFORCEMENT_ENV: oneOf(['development', 'production'] as const),
  AUTH_JWKS_URL: string({ default: '-' }),
  AUTH_JWT_PUBLIC_KEY: string({ default: '-' }),
  AUTH_JWT_SECRET: string({ default: '-' }),
  AUTH_ISSUER: string({ default: 'enforcement-dev' }),
  AUTH_AUDIENCE: string({ default: 'enforcement' }),
  AUTH_MAX_TOKEN_LIFETIME_S: integer({ default: 86_400, min: 60 }),
} satisfies Spec;

/** A service that projects the case events into a read model. */
export const projectionSpec = {
  /**
   * How long (ms) a fetch of live events may wait for more to arrive before
   * they are applied. A chunk writes each page its events fall on once, so
   * fewer, larger chunks write fewer documents per event; 0 applies what
   * arrived at once. A replay's fetches are full and do not wait.
   */
  PROJECTION_LINGER_MS: integer({ default: 100, min: 0, max: 5_000 }),
  /**
   * How long (ms) the projection may apply nothing while messages wait on
   * its partitions before health says NOT_SERVING (a fetch loop that
   * stopped without failing, a chunk that never ends).
   */
  PROJECTION_STALL_MS: integer({ default: 60_000, min: 1_000 }),
} satisfies Spec;

/** What a service reports about its build (PlatformService). */
export const serviceSpec = {
  SERVICE_VERSION: string({ default: '0.1.0' }),
  GIT_COMMIT: string({ default: 'unknown' }),
} satisfies Spec;
