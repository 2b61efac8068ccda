import type {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { stillValid, streamTokenExpired, type Principal, type Verifier } from '@enforcement/auth';
import { drained, readerStalled, toServiceError, type RequestBudget } from '@enforcement/grpc-kit';
import { executeCommand, type IntakeDeps } from '../../application/execute-command.js';
import { auditStore } from '../../application/audit.js';
import { getCase, readAll, readStream, verifyCase } from '../../application/read-case.js';
import type { CaseEvent } from '../../application/ports.js';
import { StreamFeeds } from '../../application/stream-feeds.js';
import { serveSubmitEvents } from './submit-events.js';

export interface IntakeServiceOptions {
  readonly verify: Verifier;
  readonly submitMaxInFlight: number;
  /** How long a server stream waits for its caller to take what it wrote (ms) before it ends RESOURCE_EXHAUSTED. */
  readonly streamStallMs: number;
  /** How long a SubmitEvents stream whose sender sends nothing holds its feeds back (ms). */
  readonly streamIdleMs?: number;
  /** The instance's streams (shared with the other instances); absent, a StreamFeeds of the service's own. */
  readonly feeds?: StreamFeeds;
  /** The server's requests held: SubmitEvents releases each item once answered. */
  readonly requests?: RequestBudget;
  readonly onUnexpected: (err: unknown) => void;
}

const bearer = (md: Metadata): string | undefined => {
  const v = md.get('authorization')[0];
  return v === undefined ? undefined : String(v);
};

/** The gRPC adapter: authenticate, map the request to a use case, map errors to statuses. */
export function intakeService(
  deps: IntakeDeps,
  opts: IntakeServiceOptions,
): intake.CaseIntakeServiceServer {
  const fault = (e: unknown) => toServiceError(e, opts.onUnexpected) as ServiceError;
  // Every SubmitEvents stream of this instance: a feed sent over several is held back by each.
  const feeds = opts.feeds ?? new StreamFeeds();

  const unary =
    <Req>(toCommand: (r: Req) => intake.Command) =>
    (
      call: ServerUnaryCall<Req, intake.CommandResult>,
      callback: sendUnaryData<intake.CommandResult>,
    ) => {
      opts
        .verify(bearer(call.metadata))
        .then((p) => executeCommand(deps, p, toCommand(call.request)))
        .then(
          (r) => callback(null, r),
          (e: unknown) => callback(fault(e)),
        );
    };

  const query =
    <Req, Res>(run: (p: Principal, r: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      opts
        .verify(bearer(call.metadata))
        .then((p) => run(p, call.request))
        .then(
          (r) => callback(null, r),
          (e: unknown) => callback(fault(e)),
        );
    };

  const stream =
    <Req, Res, T = CaseEvent>(
      source: (p: Principal, r: Req) => AsyncIterable<T>,
      wrap: (e: T) => Res,
    ) =>
    (call: ServerWritableStream<Req, Res>) => {
      void (async () => {
        try {
          const p = await opts.verify(bearer(call.metadata));
          for await (const e of source(p, call.request)) {
            if (call.cancelled) return;
            // A read lives no longer than its token, however long the reader takes.
            if (!stillValid(p)) throw streamTokenExpired();
            if (call.write(wrap(e))) continue;
            // A reader that went, or took nothing for that long, is not waited for.
            const how = await drained(call, opts.streamStallMs);
            if (how === 'gone') return;
            if (how === 'stalled')
              return void call.emit(
                'error',
                readerStalled(opts.streamStallMs, 'read on after the last item received'),
              );
          }
          call.end();
        } catch (e) {
          call.emit('error', fault(e));
        }
      })();
    };

  async function* fromList(list: Promise<CaseEvent[]>): AsyncGenerator<CaseEvent> {
    yield* await list;
  }

  return {
    registerCase: unary((r) => ({ kind: { $case: 'registerCase', value: r } })),
    dispatchCase: unary((r) => ({ kind: { $case: 'dispatchCase', value: r } })),
    recordProgress: unary((r) => ({ kind: { $case: 'recordProgress', value: r } })),
    decidePenalty: unary((r) => ({ kind: { $case: 'decidePenalty', value: r } })),
    concludeCase: unary((r) => ({ kind: { $case: 'concludeCase', value: r } })),
    openSupervisionOrder: unary((r) => ({ kind: { $case: 'openSupervisionOrder', value: r } })),
    answerSupervisionOrder: unary((r) => ({ kind: { $case: 'answerSupervisionOrder', value: r } })),
    escalateSupervisionOrder: unary((r) => ({
      kind: { $case: 'escalateSupervisionOrder', value: r },
    })),
    recordEvaluation: unary((r) => ({ kind: { $case: 'recordEvaluation', value: r } })),
    archiveCase: unary((r) => ({ kind: { $case: 'archiveCase', value: r } })),
    fileReconsideration: unary((r) => ({ kind: { $case: 'fileReconsideration', value: r } })),
    acceptReconsideration: unary((r) => ({ kind: { $case: 'acceptReconsideration', value: r } })),
    concludeReconsideration: unary((r) => ({
      kind: { $case: 'concludeReconsideration', value: r },
    })),

    submitEvents: (call) => {
      opts.verify(bearer(call.metadata)).then(
        (p) =>
          serveSubmitEvents(deps, p, call, {
            maxInFlight: opts.submitMaxInFlight,
            stallMs: opts.streamStallMs,
            idleMs: opts.streamIdleMs,
            requests: opts.requests,
            onUnexpected: opts.onUnexpected,
            feeds,
          }),
        (e: unknown) => call.emit('error', fault(e)),
      );
    },

    getCase: query((p, r: intake.GetCaseRequest) => getCase(deps, p, r.caseId)),
    verifyCase: query((p, r: intake.VerifyCaseRequest) => verifyCase(deps, p, r.caseId)),
    readStream: stream(
      (p, r: intake.ReadStreamRequest) => fromList(readStream(deps, p, r.caseId, r.fromVersion)),
      (event): intake.ReadStreamResponse => ({ event }),
    ),
    readAll: stream(
      (p, r: intake.ReadAllRequest) => readAll(deps, p, r),
      (event): intake.ReadAllResponse => ({ event }),
    ),
    auditStore: stream(
      (p) => auditStore(deps, p),
      (item: intake.AuditStoreResponse) => item,
    ),
  };
}
