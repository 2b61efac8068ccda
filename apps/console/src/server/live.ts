import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { status, type ClientReadableStream } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { whenExpired } from '@enforcement/auth';
import { scoring } from '@enforcement/contracts';
import { bearer, type Services } from './services.js';
import type { Session } from './session.js';

/** A comment line this often keeps proxies from closing a quiet stream (ms). */
const HEARTBEAT_MS = 15_000;
/** After a watch ends (scoring restarted), it is opened again this much later (ms). */
const REOPEN_MS = 1_000;

/** When the session's token expires (ms), as its cookie does (see startSession). */
function sessionEnd(session: Session): number | undefined {
  try {
    const exp = decodeJwt(session.token).exp;
    if (exp !== undefined) return exp * 1000;
  } catch {
    // A token that verified decodes; the principal's expiry stands in otherwise.
  }
  return session.principal.validUntil;
}

/**
 * Live updates for one page, as Server-Sent Events: `order` when a
 * supervision order is opened, escalated or answered, `score` when a case's
 * score changes, `status` when the stream opens (`live`), when a feed from
 * scoring (`orders`, `scores`) is up or drops, and `session` down when the
 * session ends: its token expired, here or at scoring. The stream closes
 * then, and no watch is opened again with that token.
 * Both come from scoring's watch streams, opened with the person's own
 * token, so an agency gets its own agency's updates only.
 */
export function live(
  s: Services,
  session: Session,
  c: Context,
  /** How many events may wait for the page to read them (`CONSOLE_LIVE_BACKLOG_MAX`). */
  backlogMax: number,
): Response {
  return streamSSE(c, async (stream) => {
    const md = bearer(session.token);
    const open = new Set<ClientReadableStream<unknown>>();
    let closed = false;
    let id = 0;
    /** Events written and not yet taken by the page's connection. */
    let waiting = 0;
    const send = (event: string, data: unknown) => {
      // A page that stops reading (a frozen tab, a stalled network) would
      // otherwise have every update since kept for it here: past
      // `backlogMax` its stream is cut, and its browser connects again.
      if (waiting >= backlogMax) {
        if (stop()) stream.abort();
        return Promise.resolve();
      }
      waiting++;
      return stream
        .writeSSE({ event, data: JSON.stringify(data), id: String(++id) })
        .catch(() => undefined)
        .finally(() => waiting--);
    };

    let done: () => void = () => undefined;
    const over = new Promise<void>((resolve) => (done = resolve));
    const beat = setInterval(() => {
      void stream.write(': keep-alive\n\n').catch(() => undefined);
    }, HEARTBEAT_MS);
    let stopWaiting: () => void = () => undefined;
    /** Stops the watches and timers; false when already stopped. */
    const stop = (): boolean => {
      if (closed) return false;
      closed = true;
      clearInterval(beat);
      stopWaiting();
      for (const call of open) call.cancel();
      open.clear();
      return true;
    };
    stream.onAbort(() => {
      stop();
      done();
    });

    /** The session is over: the watches stop, the page is told, and the stream closes. */
    const sessionEnded = async (why: string) => {
      if (!stop()) return;
      await send('session', { up: false, why });
      done();
    };
    stopWaiting = whenExpired({ ...session.principal, validUntil: sessionEnd(session) }, () => {
      void sessionEnded('session expired: sign in again');
    });

    /**
     * One of scoring's watches, opened again REOPEN_MS after it ends. The
     * feed is reported up once scoring has sent the watch's headers (it
     * does once the watch is subscribed), and down when it ends: never up
     * for a call that has only been started, so a page does not show "live"
     * while scoring is away. A watch refused for the token ends the session.
     */
    const watch = <T>(
      name: string,
      start: () => ClientReadableStream<T>,
      onData: (m: T) => void,
    ) => {
      const run = () => {
        if (closed) return;
        const call = start();
        open.add(call as ClientReadableStream<unknown>);
        call.on('metadata', () => void send('status', { feed: name, up: true }));
        call.on('data', onData);
        let ended = false;
        const again = (why: string, code?: number) => {
          if (ended) return;
          ended = true;
          open.delete(call as ClientReadableStream<unknown>);
          if (closed) return;
          if (code === status.UNAUTHENTICATED) return void sessionEnded(why);
          void send('status', { feed: name, up: false, why });
          setTimeout(run, REOPEN_MS);
        };
        call.on('error', (e: Error & { code?: number; details?: string }) =>
          again(e.details ?? e.message, e.code),
        );
        call.on('end', () => again('ended'));
      };
      run();
    };

    watch(
      'orders',
      () => s.scoring.watchSupervisionOrders({ agencyId: '' }, md),
      (m: scoring.WatchSupervisionOrdersResponse) =>
        m.order && void send('order', scoring.SupervisionOrder.toJSON(m.order)),
    );
    watch(
      'scores',
      () => s.scoring.watchScores({ agencyId: '', district: '' }, md),
      (m: scoring.WatchScoresResponse) =>
        m.score && void send('score', scoring.CaseScore.toJSON(m.score)),
    );
    if (!closed) await send('status', { feed: 'live', up: true });
    await over;
  });
}
