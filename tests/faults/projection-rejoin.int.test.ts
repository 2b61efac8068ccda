import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { checkHealth } from '@enforcement/grpc-kit';
import { groupLag, namespaced } from '@enforcement/messaging';
import { eventually, serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { startService, type ServiceName, type ServiceProcess } from '../bench/processes.js';
import { loop } from '../support/loop.js';

/**
 * Two scoring and two reporting instances, each pair one consumer group;
 * the first of each is killed with SIGKILL and started again. Until the
 * group drops the dead member, a rebalance waits for it and no member reads
 * anything, so the restarted instance says NOT_SERVING and nothing moves.
 * With kafkajs's own session (30 s) that lasted 30 s after every crash;
 * the groups' members now leave 10 s after their last heartbeat
 * (`SHARED_GROUP_MEMBERSHIP`).
 */
describe('a scoring or reporting instance killed beside another of its group', () => {
  const run = uniqueName('rejoin');
  const db = run.replace(/-/g, '_');
  const topics = namespaced(run);
  const base = { ...serviceEnv(run), TOPIC_NAMESPACE: run, HEALTH_CHECK_MS: '500' };
  const envOf: Record<Exclude<ServiceName, 'case-intake'>, Record<string, string>> = {
    'supervision-scoring': {
      ...base,
      MONGODB_DB: `${db}_scoring`,
      SCORING_GROUP: `${run}.scoring`,
      RULES_TICK_MS: '0',
      INTAKE_ADDRESS: '127.0.0.1:1',
    },
    reporting: { ...base, MONGODB_DB: `${db}_reporting`, REPORTING_GROUP: `${run}.reporting` },
  };
  const services = new Set<ServiceProcess>();
  const start = async (name: ServiceName, env: Record<string, string>) => {
    const svc = await startService(name, env);
    services.add(svc);
    return svc;
  };
  let registrar: intake.CaseIntakeServiceClient;
  const kafka = new Kafka({
    clientId: run,
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });

  beforeAll(async () => {
    const intakeSvc = await start('case-intake', { ...base, MONGODB_DB: `${db}_intake` });
    registrar = new intake.CaseIntakeServiceClient(intakeSvc.address, credentials.createInsecure());
  }, 60_000);
  afterAll(async () => {
    registrar?.close();
    await Promise.all([...services].map((s) => s.stop()));
  });

  /** Registers `n` cases through intake (keyed by case, so over every partition). */
  const register = async (prefix: string, n: number) => {
    const md = await tokenFor(['agency'], ['lz-eeb']);
    for (let i = 0; i < n; i++) {
      const { register: request } = loop(`${run}-${prefix}-${i}`, new Date(Date.UTC(2021, 4, 1)));
      await unary((cb) => registrar.registerCase(request, md, cb));
    }
  };

  /** The consumer groups a kind's instances share. */
  const groupsOf = async (name: keyof typeof envOf): Promise<string[]> => {
    if (name === 'reporting') return [`${run}.reporting`];
    const admin = kafka.admin();
    await admin.connect();
    try {
      return (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((id) => id.startsWith(`${run}.scoring.projection.`));
    } finally {
      await admin.disconnect();
    }
  };

  /** Starts two instances, kills the first, starts it again; ms from the kill until it says SERVING. */
  const killAndRestart = async (name: keyof typeof envOf) => {
    const first = await start(name, envOf[name]);
    await start(name, envOf[name]);
    await first.kill();
    const killedAt = performance.now();
    const again = await start(name, envOf[name]);
    await eventually(
      async () =>
        (await checkHealth(again.address, '', 1_000).catch(() => 'no answer')) === 'SERVING'
          ? true
          : undefined,
      { timeoutMs: 60_000, intervalMs: 200, what: `${name} SERVING again after the kill` },
    );
    return performance.now() - killedAt;
  };

  it('is back and serving within 20 s, not after the 30 s the group used to wait, and the group applies what came meanwhile', async () => {
    await register('before', 12);
    const [scoringMs, reportingMs] = await Promise.all([
      killAndRestart('supervision-scoring'),
      killAndRestart('reporting'),
    ]);
    expect(scoringMs, 'scoring: ms from the kill until SERVING').toBeLessThan(20_000);
    expect(reportingMs, 'reporting: ms from the kill until SERVING').toBeLessThan(20_000);

    // Nothing waits on the dead member any more: what arrives now is applied.
    await register('after', 12);
    for (const name of ['supervision-scoring', 'reporting'] as const) {
      const groups = await groupsOf(name);
      expect(groups.length, `${name}'s projection group`).toBeGreaterThan(0);
      for (const group of groups)
        await eventually(
          async () => ((await groupLag(kafka, group, topics.caseEvents)) === 0 ? true : undefined),
          { timeoutMs: 60_000, what: `${group} applies every event` },
        );
    }
  }, 300_000);
});
