import { metrics, type ObservableResult } from '@opentelemetry/api';
import { NeedsRestart, withDeadline } from '@enforcement/errors';
import { LIVENESS, type GrpcServer } from './server.js';

/**
 * One dependency's check: true when it works, or a reason why not. Throwing
 * is a failure too; throwing a NeedsRestart says a restart mends it.
 */
export type ReadinessCheck = () => Promise<true | string>;

export interface Readiness {
  /** The failing checks of the last round, by name (empty when serving). */
  readonly failing: ReadonlyMap<string, string>;
  /** Runs every check now and applies the result. */
  check(): Promise<void>;
  stop(): void;
}

/**
 * Health that says whether the service works, not only whether it listens:
 * every `intervalMs` each check runs with a deadline, and the server's health
 * ('') is NOT_SERVING while any fails (the database, Kafka, the relay, a
 * consumer), SERVING again once all pass. A change is logged.
 *
 * `services` names, for a gRPC service of the server, the checks its calls
 * need: it is NOT_SERVING only while one of those fails, so a load balancer
 * asking for it keeps sending it calls it can answer while, say, one
 * partition of a consumer is stuck. A service not named follows every check.
 *
 * `liveness` (LIVENESS) is NOT_SERVING only while a check fails with a
 * NeedsRestart: what a liveness probe asks, so that a database or a broker
 * away does not have every instance restarted (and, with intake, stop taking
 * the commands it still stores), while a consumer kafkajs gave up on does.
 */
export function watchReadiness(
  grpc: GrpcServer,
  checks: Record<string, ReadinessCheck>,
  o: {
    intervalMs: number;
    timeoutMs?: number;
    log: (msg: string) => void;
    services?: Readonly<Record<string, readonly string[]>>;
  },
): Readiness {
  const services = Object.entries(o.services ?? {});
  if (LIVENESS in (o.services ?? {}))
    throw new RangeError(`"${LIVENESS}" follows the checks that fail with NeedsRestart`);
  for (const [service, needs] of services)
    for (const name of needs)
      if (!(name in checks))
        throw new RangeError(`${service} needs the check "${name}", which is not among the checks`);
  const failing = new Map<string, string>();
  let serving = true;
  /** Each named service's state as last said (SERVING until said otherwise). */
  const servingService = new Map(services.map(([service]) => [service, true]));
  let running: Promise<void> | undefined;
  let checked = false;
  // Each dependency's state for alerts (1 answers, 0 does not), as of the last round.
  const gauge = metrics
    .getMeter('enforcement-readiness')
    .createObservableGauge('enforcement.dependency.up', {
      description:
        'Whether a dependency answered its last readiness check (1) or not (0), by check',
    });
  const observe = (r: ObservableResult) => {
    if (!checked) return;
    for (const name of Object.keys(checks)) r.observe(failing.has(name) ? 0 : 1, { check: name });
  };
  gauge.addCallback(observe);
  /** The checks liveness fails for, as last said ('' while it passes). */
  let wedged = '';
  const check = async () => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, run]) => {
        try {
          return [name, await withDeadline(run(), o.timeoutMs ?? 3_000, name), false] as const;
        } catch (e) {
          return [name, (e as Error).message, e instanceof NeedsRestart] as const;
        }
      }),
    );
    failing.clear();
    for (const [name, r] of results) if (r !== true) failing.set(name, r);
    checked = true;
    const ok = failing.size === 0;
    const byService = new Map(
      services.map(([service, needs]) => [service, needs.every((n) => !failing.has(n))]),
    );
    // A service going out of its load balancer, or back, is logged with why.
    for (const [service, needs] of services) {
      const up = byService.get(service) ?? ok;
      if (servingService.get(service) === up) continue;
      servingService.set(service, up);
      const why = needs.filter((n) => failing.has(n)).map((n) => `${n}: ${failing.get(n)}`);
      o.log(up ? `${service} serving again` : `${service} not serving: ${why.join('; ')}`);
    }
    const stuck = results.filter(([, , restart]) => restart);
    const names = stuck.map(([name]) => name).join(', ');
    if (names !== wedged) {
      o.log(
        names
          ? `${LIVENESS} failing, a restart mends it: ${stuck.map(([n, why]) => `${n}: ${String(why)}`).join('; ')}`
          : `${LIVENESS} passes again`,
      );
      wedged = names;
    }
    byService.set(LIVENESS, names === '');
    if (ok !== serving) {
      serving = ok;
      const still = services.filter(([service]) => byService.get(service)).map(([s]) => s);
      o.log(
        ok
          ? 'ready: every dependency answers'
          : `not ready: ${[...failing].map(([n, why]) => `${n}: ${why}`).join('; ')}${
              still.length > 0 ? ` (still serving ${still.join(', ')})` : ''
            }`,
      );
    }
    grpc.setServing(ok, byService);
  };
  const timer = setInterval(() => {
    running ??= check().finally(() => (running = undefined));
  }, o.intervalMs);
  timer.unref();
  return {
    failing,
    check: () => (running ??= check().finally(() => (running = undefined))),
    stop: () => {
      clearInterval(timer);
      gauge.removeCallback(observe);
    },
  };
}
