import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status, type Metadata } from '@grpc/grpc-js';
import { ConfigResourceTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { events, intake, scoring } from '@enforcement/contracts';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { createSupervisionScoring, loadScoringConfig } from '@enforcement/supervision-scoring';
import { checkHealth, LIVENESS, serviceNameOf } from '@enforcement/grpc-kit';
import { ensureTopics, namespaced } from '@enforcement/messaging';
import {
  eventually,
  repoRoot,
  tokenFor,
  unary,
  uniqueName,
  untilTopicTakes,
} from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { PrivateStack } from '../support/private-stack.js';

const STORE_ADMIN = join(repoRoot(), 'apps/case-intake/dist/store-admin.js');
const CLI = join(repoRoot(), 'apps/cli/dist/main.js');

/**
 * An operator mends the topic that refused a case's record and releases the
 * case while the broker happens to be down. The release needs only the
 * database; the relay publishes the released commits once the broker is
 * back, in version order, and the case's next command follows them. Kafka
 * and the store are private ones, so that stopping them disturbs no other
 * test: the same stack then serves what intake, scoring and `enforce
 * submit` say and do while one of them is away (health's names, a command
 * stored meanwhile, a command answered UNAVAILABLE sent again in its
 * stream).
 */
describe('releasing a parked case while Kafka is down, and intake while Kafka or its store is away', () => {
  let stack: PrivateStack;
  let svc: CaseIntake;
  let client: intake.CaseIntakeServiceClient;
  let agency: Metadata;
  const ns = uniqueName('outage');
  const topics = namespaced(ns);

  beforeAll(async () => {
    stack = new PrivateStack(await mkdtemp(join(tmpdir(), 'enforcement-outage-')), {
      kafka: 28092,
      kafkaController: 28093,
      ferretdb: 27067,
      ferretdbDebug: 18128,
    });
    await stack.up();
    const kafka = new Kafka({ clientId: ns, brokers: stack.brokers, logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, [
      {
        topic: topics.caseEvents,
        numPartitions: 3,
        configEntries: [{ name: 'max.message.bytes', value: '20000' }],
      },
    ]);
    svc = await createCaseIntake(
      loadIntakeConfig({
        KAFKA_BROKERS: stack.brokers.join(','),
        MONGODB_URI: stack.mongoUri,
        MONGODB_DB: 'outage',
        GRPC_PORT: '0',
        ENFORCEMENT_ENV: 'development',
        KAFKA_CLIENT_ID: ns,
        TOPIC_NAMESPACE: ns,
        EVENT_STORE_BUCKETS: '8',
        CASE_EVENTS_PARTITIONS: '3',
        INGRESS_ENABLED: 'false',
        RELAY_SWEEP_AFTER_MS: '1000',
        HEALTH_CHECK_MS: '500',
      }),
      { log: () => undefined },
    );
    client = new intake.CaseIntakeServiceClient(svc.address, credentials.createInsecure());
    agency = await tokenFor(['agency'], ['lz-eeb']);
  }, 300_000);

  afterAll(async () => {
    client?.close();
    await svc?.kill();
    await stack?.down();
    await rm(stack.home, { recursive: true, force: true });
  });

  /** Every event of the case on the topic, in the order a consumer reads them. */
  async function published(caseId: string, count: number): Promise<number[]> {
    const consumer = new Kafka({
      clientId: uniqueName('reader'),
      brokers: stack.brokers,
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: uniqueName('reader') });
    const versions: number[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topics.caseEvents, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (String(message.key) === caseId)
          versions.push(events.CaseEvent.decode(message.value ?? Buffer.alloc(0)).version);
      },
    });
    try {
      await eventually(() => (versions.length >= count ? true : undefined), {
        timeoutMs: 60_000,
        what: `${count} events of ${caseId} on the topic`,
      });
    } finally {
      await consumer.disconnect();
    }
    return versions;
  }

  it('takes the release, and the relay publishes the commits in order once the broker is back', async () => {
    const caseId = uniqueName('big');
    const l = loop(caseId, new Date('2021-03-01T02:00:00Z'));
    await unary((cb) =>
      client.registerCase({ ...l.register, title: 'x'.repeat(30_000) }, agency, cb),
    );
    await unary((cb) => client.dispatchCase(l.dispatch, agency, cb));
    await eventually(
      async () => ((await svc.store.parked.countDocuments({ caseId })) === 2 ? true : undefined),
      { timeoutMs: 30_000, what: 'both commits parked' },
    );

    // The operator raises the topic's limit, then the broker goes down.
    const admin = new Kafka({
      clientId: ns,
      brokers: stack.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topics.caseEvents,
          configEntries: [{ name: 'max.message.bytes', value: '1048576' }],
        },
      ],
    });
    await admin.disconnect();
    await untilTopicTakes(stack.brokers, topics.caseEvents, 30_000);
    await stack.stop('kafka');

    const released = await promisify(execFile)(
      process.execPath,
      [STORE_ADMIN, 'release', '--case', caseId],
      {
        env: { ...process.env, MONGODB_URI: stack.mongoUri, MONGODB_DB: 'outage' },
        timeout: 60_000,
      },
    );
    expect(released.stdout).toContain(`released 2 commits of ${caseId}`);
    expect(await svc.store.parked.countDocuments({})).toBe(0);
    // The relay takes them up and cannot send them: they wait, and readiness says why.
    await eventually(
      async () => {
        const why = svc.relay.health();
        return why !== true && svc.relay.backlog > 0 ? why : undefined;
      },
      { timeoutMs: 40_000, what: 'the relay to report that publication fails' },
    );
    await eventually(() => (svc.readiness.failing.has('relay') ? true : undefined), {
      what: 'readiness to name the relay',
    });
    // The server as a whole says Kafka is away; its service still takes
    // commands (stored, published once Kafka is back: the next test sends
    // one), and nothing a restart mends is wrong: a liveness probe restarts
    // no pod.
    expect(await checkHealth(svc.address)).toBe('NOT_SERVING');
    expect(await checkHealth(svc.address, serviceNameOf(intake.CaseIntakeServiceService))).toBe(
      'SERVING',
    );
    expect(await checkHealth(svc.address, LIVENESS)).toBe('SERVING');
    expect(await svc.store.outbox.countDocuments({})).toBeGreaterThan(0);
    expect(await svc.store.parked.countDocuments({})).toBe(0);

    await stack.up();
    await eventually(
      async () => ((await svc.store.outbox.countDocuments({})) === 0 ? true : undefined),
      { timeoutMs: 90_000, what: 'the outbox emptied once the broker is back' },
    );
    await eventually(() => (svc.readiness.failing.size === 0 ? true : undefined), {
      what: 'readiness without failures',
    });
    expect(await svc.store.parked.countDocuments({})).toBe(0);

    // The case flows: its next command is published after the released ones.
    const [evidence] = l.steps();
    if (!evidence) throw new Error('no step');
    await unary((cb) => client.recordProgress(evidence, agency, cb));
    expect(await published(caseId, 3)).toEqual([1, 2, 3]);
  });

  it("answers scoring's release UNAVAILABLE while the broker is down, the case still parked, and releases it once the broker is back", async () => {
    const scoringSvc = await createSupervisionScoring(
      loadScoringConfig({
        KAFKA_BROKERS: stack.brokers.join(','),
        MONGODB_URI: stack.mongoUri,
        MONGODB_DB: 'outage_scoring',
        GRPC_PORT: '0',
        ENFORCEMENT_ENV: 'development',
        RULES_TICK_MS: '0',
        READ_MODEL_BUCKETS: '4',
        INTAKE_ADDRESS: svc.address,
        SCORING_GROUP: uniqueName('scoring'),
        HEALTH_CHECK_MS: '500',
      }),
      { topics, log: () => undefined },
    );
    const scoringClient = new scoring.ScoringServiceClient(
      scoringSvc.address,
      credentials.createInsecure(),
    );
    try {
      const supervisor = await tokenFor(['supervisor']);
      const caseId = uniqueName('held');
      const l = loop(caseId, new Date('2021-04-01T02:00:00Z'));
      await unary((cb) => client.registerCase(l.register, agency, cb));
      await unary((cb) => client.dispatchCase(l.dispatch, agency, cb));
      const record = () => scoringSvc.runtime.models.getCase(caseId);
      await eventually(async () => ((await record())?.view.version === 2 ? true : undefined), {
        timeoutMs: 60_000,
        what: 'the case applied to version 2',
      });
      // An undecodable message parks the case; its next event is held behind it.
      const producer = new Kafka({
        clientId: ns,
        brokers: stack.brokers,
        logLevel: logLevel.NOTHING,
      }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      await producer.send({
        topic: topics.caseEvents,
        messages: [{ key: caseId, value: Buffer.from([0xff, 0xff]) }],
      });
      await producer.disconnect();
      const [evidence] = l.steps();
      if (!evidence) throw new Error('no step');
      await unary((cb) => client.recordProgress(evidence, agency, cb));
      await eventually(
        async () => {
          const r = await record();
          return r?.parked && r.held.length === 1 ? true : undefined;
        },
        { timeoutMs: 60_000, what: 'the case parked with one event held' },
      );

      // The release notes where the partition ends, which only the broker says.
      await stack.stop('kafka');
      const release = () =>
        unary<scoring.ReleaseParkedCaseResponse>((cb) =>
          scoringClient.releaseParkedCase({ caseId }, supervisor, cb),
        );
      await expect(release()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      expect(await record()).toMatchObject({ parked: true, view: { version: 2 } });
      // Once scoring sees Kafka away, it says so as a whole, and still
      // answers queries from the read models; no restart is asked for.
      await eventually(
        async () => ((await checkHealth(scoringSvc.address)) === 'NOT_SERVING' ? true : undefined),
        { timeoutMs: 90_000, what: 'scoring to say Kafka is away' },
      );
      expect(
        await checkHealth(scoringSvc.address, serviceNameOf(scoring.ScoringServiceService)),
      ).toBe('SERVING');
      expect(await checkHealth(scoringSvc.address, LIVENESS)).toBe('SERVING');
      // Intake stores a command meanwhile, and scoring applies it once Kafka is back.
      const meanwhileId = uniqueName('meanwhile');
      const meanwhile = loop(meanwhileId, new Date('2021-04-02T02:00:00Z'));
      await unary((cb) => client.registerCase(meanwhile.register, agency, cb));
      // Read from the read models: the case is there, not concluded.
      await expect(
        unary((cb) => scoringClient.getCaseScore({ caseId }, supervisor, cb)),
      ).rejects.toMatchObject({
        code: status.NOT_FOUND,
        details: `SCORE.NOT_FOUND: case ${caseId} is not concluded yet, so it has no score`,
      });

      await stack.up();
      const released = await eventually(() => release().catch(() => undefined), {
        timeoutMs: 90_000,
        what: 'the release once the broker is back',
      });
      expect(released.releasedEvents).toBe(1);
      expect(await record()).toMatchObject({ parked: false, held: [], view: { version: 3 } });
      await eventually(
        async () =>
          (await scoringSvc.runtime.models.getCase(meanwhileId))?.view.version === 1
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'the case registered while Kafka was away, applied' },
      );
    } finally {
      scoringClient.close();
      await scoringSvc.kill();
    }
  });

  // Until 2026-12-07 a stream that answered a case's command UNAVAILABLE
  // answered every later item of the case so, that command's resend too:
  // a sender that retried in its stream never got past it.
  it('takes a command answered UNAVAILABLE while the store is away again in the same stream, and what followed it', async () => {
    const caseId = uniqueName('again');
    const l = loop(caseId, new Date('2021-05-03T02:00:00Z'));
    const [evidence] = l.steps();
    if (!evidence) throw new Error('no step');
    const call = client.submitEvents(agency);
    const acks: intake.SubmitEventsResponse[] = [];
    call.on('data', (a: intake.SubmitEventsResponse) => acks.push(a));
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    const send = (sequence: number, kind: intake.Command['kind']) =>
      call.write({ sequence, command: { kind } });
    const acked = (n: number) =>
      eventually(() => (acks.length >= n ? true : undefined), {
        timeoutMs: 90_000,
        what: `${n} acknowledgements`,
      });
    const dispatch: intake.Command['kind'] = { $case: 'dispatchCase', value: l.dispatch };
    const step: intake.Command['kind'] = { $case: 'recordProgress', value: evidence };
    const answers = (from: number) =>
      acks.slice(from).map((a) => [a.sequence, a.accepted, a.statusCode, a.errorCode]);

    send(1, { $case: 'registerCase', value: l.register });
    await acked(1);
    await stack.stop('ferretdb');
    try {
      send(2, dispatch);
      send(3, step);
      await acked(3);
      expect(answers(0)).toEqual([
        [1, true, 0, ''],
        [2, false, status.UNAVAILABLE, 'SERVICE.UNAVAILABLE'],
        [3, false, status.UNAVAILABLE, 'SERVICE.UNAVAILABLE'],
      ]);
      // What follows it names the command to send first.
      expect(acks[2]?.reason).toContain(`command ${l.dispatch.meta?.commandId}`);
    } finally {
      await stack.up();
    }
    await eventually(async () => (await checkHealth(svc.address)) === 'SERVING' || undefined, {
      timeoutMs: 90_000,
      what: 'intake serving again',
    });
    // The same stream: the dispatch again, by its id, then the step behind it.
    send(4, dispatch);
    send(5, step);
    await acked(5);
    expect(answers(3)).toEqual([
      [4, true, 0, ''],
      [5, true, 0, ''],
    ]);
    call.end();
    await ended;
    const history = await unary<intake.GetCaseResponse>((cb) =>
      client.getCase({ caseId }, agency, cb),
    );
    expect(history.history.map((e) => e.version)).toEqual([1, 2, 3]);
  });

  // Until 2026-12-07 `enforce submit` gave its stream up at the first
  // UNAVAILABLE answer and sent the commands again in a new one: the first
  // stream's end let intake mark its agencies past them (late data for the
  // rules' clock).
  it('enforce submit sends the commands answered UNAVAILABLE again in its own stream, and every one is stored', async () => {
    const cases = [0, 1, 2].map((i) =>
      loop(uniqueName(`cli${i}`), new Date('2021-06-01T02:00:00Z')),
    );
    const commands: intake.Command[] = cases.flatMap((l) => [
      { kind: { $case: 'registerCase' as const, value: l.register } },
      { kind: { $case: 'dispatchCase' as const, value: l.dispatch } },
      ...l
        .steps()
        .slice(0, 2)
        .map((value) => ({ kind: { $case: 'recordProgress' as const, value } })),
    ]);
    const file = join(stack.home, 'cli.ndjson');
    await writeFile(
      file,
      `${commands.map((c) => JSON.stringify(intake.Command.toJSON(c))).join('\n')}\n`,
    );
    await stack.stop('ferretdb');
    const child = spawn(
      process.execPath,
      [CLI, 'submit', file, '--json', '--quiet', '--intake', svc.address, '--retry-for', '120'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // It says so once a command was answered UNAVAILABLE and is to go again.
      await eventually(() => (stderr.includes('is not answering') ? true : undefined), {
        timeoutMs: 90_000,
        what: 'enforce submit to meet UNAVAILABLE',
      });
    } finally {
      await stack.up();
    }
    const out = { code: await exited, stdout, stderr };
    const summary = JSON.parse(out.stdout) as {
      acked: number;
      rejected: number;
      unanswered: number;
      reconnects: number;
      resent: number;
    };
    expect({ code: out.code, ...summary }).toMatchObject({
      code: 0,
      acked: commands.length,
      rejected: 0,
      unanswered: 0,
      // One stream throughout.
      reconnects: 0,
    });
    expect(summary.resent).toBeGreaterThan(0);
    expect(out.stderr).toContain('is not answering (UNAVAILABLE');
    for (const l of cases) {
      const history = await unary<intake.GetCaseResponse>((cb) =>
        client.getCase({ caseId: l.register.meta.caseId }, agency, cb),
      );
      expect(history.history.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    }
  });

  it('enforce submit gives up on a store away longer than --retry-for, saying why, with what was answered', async () => {
    const l = loop(uniqueName('cli-gone'), new Date('2021-06-05T02:00:00Z'));
    const commands: intake.Command[] = [
      { kind: { $case: 'registerCase', value: l.register } },
      { kind: { $case: 'dispatchCase', value: l.dispatch } },
    ];
    const file = join(stack.home, 'cli-gone.ndjson');
    await writeFile(
      file,
      `${commands.map((c) => JSON.stringify(intake.Command.toJSON(c))).join('\n')}\n`,
    );
    await stack.stop('ferretdb');
    try {
      const out = await promisify(execFile)(
        process.execPath,
        [CLI, 'submit', file, '--json', '--quiet', '--intake', svc.address, '--retry-for', '5'],
        { maxBuffer: 16 << 20 },
      ).then(
        () => ({ code: 0, stdout: '' }),
        (e: { code: number; stdout: string }) => e,
      );
      const summary = JSON.parse(out.stdout) as {
        acked: number;
        unanswered: number;
        failure?: string;
      };
      expect({ code: out.code, acked: summary.acked, unanswered: summary.unanswered }).toEqual({
        code: 1,
        acked: 0,
        unanswered: 2,
      });
      expect(summary.failure).toMatch(
        /^case-intake at .* did not answer for 5 s \(UNAVAILABLE: .+\)$/,
      );
    } finally {
      await stack.up();
    }
  });
});
