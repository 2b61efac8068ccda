import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status, type ClientReadableStream, type Metadata } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  startIntake,
  submitAll,
  tokenFor,
  unary,
  type TestIntake,
} from './test-support/harness.js';

/** How long a stream waits here for its caller to take what it wrote (ms). */
const STALL_MS = 1_000;
/**
 * Registrations: far more acknowledgements (about 70 bytes each) and events
 * than the client holds with a window of a few KiB (its stream's own buffer
 * takes 16 KiB more).
 */
const CASES = 2_000;

type Ended = Error & { code?: number; details?: string };

/**
 * A caller that stops reading a server stream (its acknowledgements, or the
 * events it asked for) used to be waited for forever, and one that went
 * away while the stream waited left it waiting for good, holding what it
 * had read for the caller. Now the stream ends RESOURCE_EXHAUSTED
 * (`STREAM.READER_STALLED`) once its caller has taken nothing for
 * STREAM_STALL_MS; what it read of the caller's items is stored all the
 * same, and the caller sends again what has no acknowledgement.
 */
describe('a caller that stops reading a stream', () => {
  let svc: TestIntake;
  let md: Metadata;
  /** A client whose window takes a few KiB: what its caller leaves unread soon waits at intake. */
  let narrow: intake.CaseIntakeServiceClient;
  beforeAll(async () => {
    svc = await startIntake({ env: { STREAM_STALL_MS: String(STALL_MS) } });
    md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    narrow = new intake.CaseIntakeServiceClient(svc.service.address, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc-node.flow_control_window': 4_096,
    });
  });
  afterAll(async () => {
    narrow?.close();
    await svc?.stop();
  });

  const registrations = (prefix: string) =>
    Array.from({ length: CASES }, (_, i) => ({
      sequence: i + 1,
      command: {
        kind: { $case: 'registerCase' as const, value: fullLoop(`${prefix}-${i}`).register },
      },
    }));

  /** Paused until well past the stall, then read: what it got, and how it ended. */
  const readLate = async <T>(call: ClientReadableStream<T>) => {
    const got: T[] = [];
    const ended = new Promise<Ended | 'ok'>((resolve) => {
      call.on('error', (e: Ended) => resolve(e));
      call.on('end', () => resolve('ok'));
    });
    call.on('data', (m: T) => got.push(m));
    call.pause();
    await new Promise((r) => setTimeout(r, STALL_MS * 3));
    call.resume();
    return { got, end: await ended };
  };

  it('ends SubmitEvents whose acknowledgements go unread; sent again, every item is answered and each case stored once', async () => {
    const prefix = uniqueName('unread-acks');
    const items = registrations(prefix);
    const call = narrow.submitEvents(md);
    for (const item of items) call.write(item);
    const { got, end } = await readLate(call as ClientReadableStream<intake.SubmitEventsResponse>);
    expect(end).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(
        new RegExp(
          `^STREAM\\.READER_STALLED: the caller took nothing of this stream for ${STALL_MS} ms, and it ends here; send again what has no acknowledgement`,
        ),
      ),
    });
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(CASES);
    // Sent again on a stream that is read: every item answered, each case stored once.
    const again = await submitAll(svc.client, md, items);
    expect(again.map((a) => [a.sequence, a.accepted])).toEqual(
      items.map((i) => [i.sequence, true]),
    );
    for (const i of [0, CASES - 1]) {
      const got = await unary<intake.GetCaseResponse>((cb) =>
        svc.client.getCase({ caseId: `${prefix}-${i}` }, md, cb),
      );
      expect(got.history.map((e) => e.payload?.$case)).toEqual(['caseRegistered']);
    }
  });

  it('ends ReadAll whose events go unread, after those it had sent', async () => {
    const acks = await submitAll(svc.client, md, registrations(uniqueName('unread-events')));
    expect(acks.every((a) => a.accepted)).toBe(true);
    const call = narrow.readAll({ afterPosition: 0, maxCount: 0, fromCommits: false }, md);
    const { got, end } = await readLate(call);
    expect(end).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(
        /^STREAM\.READER_STALLED: .*; read on after the last item received$/,
      ),
    });
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(CASES);
    // In order, with no gap, up to where it ended: the reader reads on from there.
    const positions = got.map((r) => Number(r.event?.position));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    const rest = await new Promise<intake.ReadAllResponse[]>((resolve, reject) => {
      const out: intake.ReadAllResponse[] = [];
      const more = svc.client.readAll(
        { afterPosition: positions.at(-1) ?? 0, maxCount: 0, fromCommits: false },
        md,
      );
      more.on('data', (r: intake.ReadAllResponse) => out.push(r));
      more.on('end', () => resolve(out));
      more.on('error', reject);
    });
    expect(got.length + rest.length).toBeGreaterThanOrEqual(CASES);
  });
});
