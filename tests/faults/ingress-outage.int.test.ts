import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { createCaseIntake, loadIntakeConfig } from '@enforcement/case-intake';
import { intake } from '@enforcement/contracts';
import { namespaced } from '@enforcement/messaging';
import { eventually, serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { credentials } from '@grpc/grpc-js';
import { loop } from '../support/loop.js';
import { tcpProxy } from '../support/tcp-proxy.js';

/** Longer than the driver waits to find a server (15 s): intake's store calls fail meanwhile. */
const OUTAGE_MS = 20_000;

/**
 * The store goes away under the Kafka ingress. A submission intake cannot
 * store for now used to get an UNAVAILABLE receipt, and the ingress read on:
 * the submissions after it on the case were refused (the case was not at
 * that step). Now nothing of the batch is answered until its submissions
 * can be stored, then each in its place.
 */
describe('the Kafka ingress while its store is unreachable', () => {
  it('stores every submission in its place once the store is back, with no UNAVAILABLE receipt, and serves again', async () => {
    const run = uniqueName('ingress-outage');
    const topics = {
      ...namespaced(run),
      caseEvents: `${run}.case-events`,
      intakeSubmissions: `${run}.submissions`,
      intakeReceipts: `${run}.receipts`,
      intakeDeadLetter: `${run}.intake-dlq`,
    };
    const mongo = new URL(stack().mongoUri);
    const store = `${mongo.hostname}:${mongo.port}`;
    const proxy = await tcpProxy(store);
    const uri = new URL(stack().mongoUri);
    const [proxyHost, proxyPort] = proxy.address.split(':');
    uri.hostname = proxyHost ?? '127.0.0.1';
    uri.port = proxyPort ?? '0';
    const svc = await createCaseIntake(
      loadIntakeConfig({
        ...serviceEnv(run),
        MONGODB_URI: uri.toString(),
        MONGODB_DB: `${run.replace(/-/g, '_')}_intake`,
        INGRESS_ENABLED: 'true',
        CASE_EVENTS_PARTITIONS: '2',
        HEALTH_CHECK_MS: '500',
      }),
      { topics, log: () => undefined },
    );
    const kafka = new Kafka({
      clientId: 'agency-feed',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    const receipts: intake.SubmitEventsResponse[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('receipts') });
    const client = new intake.CaseIntakeServiceClient(svc.address, credentials.createInsecure());
    try {
      const md = await tokenFor(['agency'], ['lz-eeb']);
      const bearer = String(md.get('authorization')[0]);
      await producer.connect();
      await consumer.connect();
      await consumer.subscribe({ topic: topics.intakeReceipts, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          receipts.push(intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value))));
        },
      });
      // Three cases of one agency, on one partition (the agency's key): the
      // ingress stores their submissions at once, each case's in order.
      const cases = Array.from({ length: 3 }, () => {
        const caseId = uniqueName('case');
        const l = loop(caseId, new Date('2025-03-01T08:00:00Z'));
        const [evidence] = l.steps();
        return { caseId, l, evidence };
      });
      const registrations: intake.Command[] = cases.map(({ l }) => ({
        kind: { $case: 'registerCase', value: l.register },
      }));
      const later: intake.Command[] = cases.flatMap(({ l, evidence }) => [
        { kind: { $case: 'dispatchCase', value: l.dispatch } },
        ...(evidence ? [{ kind: { $case: 'recordProgress' as const, value: evidence } }] : []),
      ]);
      let sequence = 0;
      const send = (commands: intake.Command[]) =>
        producer.send({
          topic: topics.intakeSubmissions,
          messages: commands.map((command) => ({
            key: 'lz-eeb',
            value: JSON.stringify(
              intake.SubmitEventsRequest.toJSON({ sequence: ++sequence, command }),
            ),
            headers: { authorization: bearer },
          })),
        });
      const accepted = () => new Set(receipts.filter((r) => r.accepted).map((r) => r.sequence));
      await send(registrations);
      await eventually(() => (accepted().size === 3 ? true : undefined), {
        what: 'the registrations accepted',
        timeoutMs: 30_000,
      });

      // The store goes away: new connections are refused, open ones break.
      proxy.route('127.0.0.1:1');
      proxy.drop();
      await send(later);
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      proxy.route(store);

      const all = registrations.length + later.length;
      const last = await eventually(() => (accepted().size === all ? true : undefined), {
        what: 'every submission accepted',
        timeoutMs: 120_000,
      }).catch(() => receipts.map((r) => `${r.sequence} ${r.errorCode} ${r.reason}`).join('\n'));
      expect(last).toBe(true);
      // No sender was told to send again: nothing was refused for the outage.
      expect(receipts.filter((r) => !r.accepted).map((r) => r.errorCode)).toEqual([]);
      for (const { caseId } of cases) {
        const got = await unary<intake.GetCaseResponse>((cb) => client.getCase({ caseId }, md, cb));
        expect(got.history.map((e) => e.payload?.$case)).toEqual([
          'caseRegistered',
          'caseDispatched',
          'evidenceRecorded',
        ]);
      }
      // And it says it works again: the ingress's consumer is running.
      const failing = await eventually(
        async () => {
          await svc.readiness.check();
          return svc.readiness.failing.size === 0 ? true : undefined;
        },
        { what: 'intake serving again', timeoutMs: 60_000 },
      ).catch(() => [...svc.readiness.failing].join('; '));
      expect(failing).toBe(true);
    } finally {
      client.close();
      await consumer.disconnect();
      await producer.disconnect();
      await svc.stop();
      await proxy.close();
    }
  }, 240_000);
});
