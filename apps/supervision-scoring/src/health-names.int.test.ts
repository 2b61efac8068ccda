import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigResourceTypes, Kafka, logLevel, type Admin } from 'kafkajs';
import type { scoring } from '@enforcement/contracts';
import { checkHealth } from '@enforcement/grpc-kit';
import { eventually, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { caseEvents } from './test-support/events.js';
import { publish, startScoring, testTopics, type TestScoring } from './test-support/harness.js';

/**
 * Scoring's health has two names (docs/operations.md, "Health"): the server
 * as a whole, SERVING only while everything moves, and its ScoringService,
 * SERVING while its queries can be answered, which is what a load balancer
 * asks. Here the scores topic refuses every live update (its
 * max.message.bytes below any update), as a Kafka that refuses them would.
 */
describe("scoring's health while its live updates cannot be published", () => {
  const kafka = new Kafka({
    clientId: 'test-health-names',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const admin: Admin = kafka.admin();
  const topics = testTopics();
  let svc: TestScoring;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.scores, configEntries: [{ name: 'max.message.bytes', value: '64' }] },
      ],
    });
    svc = await startScoring({ topics, env: { HEALTH_CHECK_MS: '250' } });
  });
  afterAll(async () => {
    await svc?.stop();
    await admin.disconnect();
  });

  it('says NOT_SERVING as a whole, naming why, while its ScoringService stays SERVING and answers; SERVING again once the topic takes them', async () => {
    const caseId = uniqueName('refused-update');
    await publish(topics.caseEvents, caseEvents({ caseId }));
    const address = svc.service.address;
    await eventually(
      async () => ((await checkHealth(address)) === 'NOT_SERVING' ? true : undefined),
      {
        what: 'NOT_SERVING as a whole',
      },
    );
    expect(svc.service.readiness.failing.get('watch')).toMatch(/^publishing live updates failed: /);
    expect(await checkHealth(address, 'enforcement.scoring.v1.ScoringService')).toBe('SERVING');
    const md = await tokenFor(['supervisor']);
    const answered = await eventually(async () =>
      unary<scoring.GetCaseScoreResponse>((cb) => svc.client.getCaseScore({ caseId }, md, cb)).then(
        (r) => r.score,
        () => undefined,
      ),
    );
    expect(answered.caseId).toBe(caseId);

    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topics.scores,
          configEntries: [{ name: 'max.message.bytes', value: '1048576' }],
        },
      ],
    });
    await eventually(async () => ((await checkHealth(address)) === 'SERVING' ? true : undefined), {
      what: 'SERVING as a whole again',
      timeoutMs: 60_000,
    });
  });
});
