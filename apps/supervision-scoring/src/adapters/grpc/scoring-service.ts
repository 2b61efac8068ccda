import { metrics, type Counter } from '@opentelemetry/api';
import {
  Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  actsFor,
  hasRole,
  streamTokenExpired,
  whenExpired,
  type Principal,
  type Verifier,
} from '@enforcement/auth';
import type { scoring } from '@enforcement/contracts';
import { DomainError, invalid } from '@enforcement/errors';
import {
  asStored,
  drained,
  refuseNul,
  resourceExhausted,
  toServiceError,
  type ReaderOfStream,
} from '@enforcement/grpc-kit';
import { getCaseScore, listOrders, listScores } from '../../application/queries.js';
import type { ScoringRuntime } from '../../runtime.js';

const bearer = (md: Metadata): string | undefined => {
  const v = md.get('authorization')[0];
  return v === undefined ? undefined : String(v);
};

let behindCounter: Counter | undefined;
/** Watches ended for a reader that fell behind (made on first use, as the rules' meters are). */
const behindWatches = () =>
  (behindCounter ??= metrics
    .getMeter('supervision-scoring')
    .createCounter('enforcement.scoring.watches_behind', {
      description: 'Watches ended because their reader left too many updates waiting',
    }));

/** The status a watch ends with when its reader fell behind (`why`). */
const behind = (why: string): ServiceError =>
  resourceExhausted(
    'WATCH.BEHIND',
    `${why}; it gets no more. Watch again, and list what changed meanwhile (ListScores, ListSupervisionOrders)`,
  );

const supervisorOnly = (p: Principal) => {
  if (!hasRole(p, 'supervisor'))
    throw new DomainError('AUTH.FORBIDDEN', 'FORBIDDEN', 'supervisor role required');
};

interface WatchCall extends ReaderOfStream {
  /** Updates written and not yet taken by the transport (objects). */
  readonly writableLength: number;
  sendMetadata(md: Metadata): void;
  on(event: 'cancelled' | 'close', listener: () => void): unknown;
  emit(event: 'error', err: ServiceError): boolean;
}

/** The gRPC adapter of the scoring service. */
export function scoringService(
  rt: ScoringRuntime,
  verify: Verifier,
  onUnexpected: (e: unknown) => void,
  /** How long a watcher's updates may wait undrained, and how many may wait (`WATCH_STALL_MS`, `WATCH_BACKLOG_MAX`). */
  opts: { readonly watchStallMs: number; readonly watchBacklogMax: number },
): scoring.ScoringServiceServer {
  const fault = (e: unknown) => toServiceError(e, onUnexpected) as ServiceError;
  /**
   * A watch for `p`, subscribed by `subscribe` (which returns how to
   * unsubscribe): it ends when the caller goes, or UNAUTHENTICATED when the
   * caller's token expires, so no update reaches a session that has ended.
   * It sends its response headers once subscribed: a client that waits for
   * them knows its watch is live, where a quiet watch otherwise says nothing
   * until its first update.
   *
   * A caller that stops reading (a frozen page, a client that pauses) would
   * otherwise have every update since kept for it here. Its watch gets no
   * more, and ends RESOURCE_EXHAUSTED (`WATCH.BEHIND`) after the updates
   * already waiting, once what waits for it has not drained for
   * `watchStallMs`, or once `watchBacklogMax` updates wait (a chunk's
   * burst to a reader that keeps up drains in moments). What changed since
   * is for it to read again.
   */
  const serveWatch = <T>(
    call: WatchCall & { write(m: T): boolean },
    p: Principal,
    subscribe: (send: (m: T) => void) => () => void,
  ) => {
    let over = false;
    let unsubscribe = () => undefined as void;
    let stopWaiting = () => undefined as void;
    /** Waiting for the transport to take what waits (see `drained`). */
    let waiting = false;
    const end = () => {
      over = true;
      unsubscribe();
      stopWaiting();
    };
    const behindNow = (why: string) => {
      if (over) return;
      end();
      behindWatches().add(1);
      call.emit('error', behind(why));
    };
    unsubscribe = subscribe((m) => {
      if (over) return;
      if (call.writableLength >= opts.watchBacklogMax)
        return behindNow(`${call.writableLength} updates were waiting for this watch to read them`);
      if (call.write(m) || waiting) return;
      // Above the transport's mark: it has that long to drain.
      waiting = true;
      void drained(call, opts.watchStallMs).then((how) => {
        waiting = false;
        if (how === 'gone') end();
        else if (how === 'stalled')
          behindNow(
            `${call.writableLength} updates waited for this watch to read them, undrained for ${opts.watchStallMs} ms`,
          );
      });
    });
    stopWaiting = whenExpired(p, () => {
      end();
      call.emit('error', fault(streamTokenExpired()));
    });
    // Ended while subscribing: what was set up since goes too.
    if (over) end();
    call.on('cancelled', end);
    call.on('close', end);
    call.sendMetadata(new Metadata());
  };
  const query =
    <Req extends object, Res>(run: (p: Principal, r: Req) => Promise<Res>) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      verify(bearer(call.metadata))
        .then((p) => {
          refuseNul(call.request);
          return run(p, asStored(call.request));
        })
        .then(
          (r) => callback(null, r),
          (e: unknown) => callback(fault(e)),
        );
    };

  return {
    getCaseScore: query((p, r: scoring.GetCaseScoreRequest) =>
      getCaseScore(rt.reader(), p, r.caseId),
    ),
    listScores: query((p, r: scoring.ListScoresRequest) => listScores(rt.reader(), p, r)),
    listSupervisionOrders: query((p, r: scoring.ListSupervisionOrdersRequest) =>
      listOrders(rt.reader(), p, r, rt.clock.now()),
    ),
    releaseParkedCase: query(async (p, r: scoring.ReleaseParkedCaseRequest) => {
      supervisorOnly(p);
      if (!r.caseId) throw invalid('QUERY.CASE_REQUIRED', 'case_id', 'is required');
      return { releasedEvents: await rt.release(r.caseId) };
    }),
    rebuildReadModels: query(async (p) => {
      supervisorOnly(p);
      return rt.rebuild();
    }),
    getRulesStatus: query(async (p) => {
      supervisorOnly(p);
      const s = await rt.rulesStatus();
      return {
        clock: s.clock,
        agencies: s.agencies.map((a) => ({
          agencyId: a.agencyId,
          judgedUpTo: new Date(a.judgedUpTo),
          casesDue: a.casesDue,
          ordersUnwarranted: a.ordersUnwarranted,
        })),
        casesDue: s.casesDue,
        ordersUnwarranted: s.ordersUnwarranted,
        lastPassAt: s.lastPassAt > 0 ? new Date(s.lastPassAt) : undefined,
        actionsSent: s.actionsSent,
        actionsRefused: s.actionsRefused,
        actionsFailed: s.actionsFailed,
        lastAcceptedAt: s.lastAcceptedAt > 0 ? new Date(s.lastAcceptedAt) : undefined,
        lastTroubleAt: s.trouble ? new Date(s.trouble.at) : undefined,
        lastTrouble: s.trouble?.what ?? '',
      };
    }),
    getProjectionStatus: query(async (p) => {
      supervisorOnly(p);
      const s = await rt.projectionStatus();
      return {
        generation: s.generation,
        lag: s.lag,
        partitions: s.partitions,
        lastRecordedAt: s.lastRecordedAt > 0 ? new Date(s.lastRecordedAt) : undefined,
        parked: s.parked,
        parkedTotal: s.parkedTotal,
        rebuilding: s.rebuild !== undefined,
        rebuildGeneration: s.rebuild?.generation ?? 0,
        rebuildStartedAt: s.rebuild ? new Date(s.rebuild.startedAt) : undefined,
        rebuildEventsApplied: s.rebuild?.eventsApplied ?? 0,
      };
    }),
    watchSupervisionOrders: (call) => {
      verify(bearer(call.metadata))
        .then((p) => {
          refuseNul(call.request);
          const wanted = asStored(call.request).agencyId;
          if (
            wanted &&
            !(hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, wanted))
          )
            throw new DomainError(
              'AUTH.FORBIDDEN',
              'FORBIDDEN',
              `${p.subject} may not see agency ${wanted}`,
            );
          const sees = (o: scoring.SupervisionOrder) =>
            (hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, o.agencyId)) &&
            (!wanted || o.agencyId === wanted);
          serveWatch(call, p, (send: (m: scoring.WatchSupervisionOrdersResponse) => void) =>
            rt.hub.subscribeOrders((order) => {
              if (sees(order)) send({ order });
            }),
          );
        })
        .catch((e: unknown) => call.emit('error', fault(e)));
    },
    watchScores: (call) => {
      verify(bearer(call.metadata))
        .then((p) => {
          refuseNul(call.request);
          const r = asStored(call.request);
          const sees = (s: scoring.CaseScore) =>
            (hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, s.agencyId)) &&
            (!r.agencyId || s.agencyId === r.agencyId) &&
            (!r.district || s.district === r.district);
          serveWatch(call, p, (send: (m: scoring.WatchScoresResponse) => void) =>
            rt.hub.subscribe((score) => {
              if (sees(score)) send({ score });
            }),
          );
        })
        .catch((e: unknown) => call.emit('error', fault(e)));
    },
  };
}
