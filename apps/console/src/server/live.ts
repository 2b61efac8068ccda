import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { ClientReadableStream } from '@grpc/grpc-js';
import { scoring } from '@enforcement/contracts';
import { bearer, type Services } from './services.js';
import type { Session } from './session.js';

/** A comment line this often keeps proxies from closing a quiet stream (ms). */
const HEARTBEAT_MS = 15_000;
/** After a watch ends (scoring restarted), it is opened again this much later (ms). */
const REOPEN_MS = 1_000;

/**
 * Live updates for one page, as Server-Sent Events: `order` when a
 * supervision order is opened, escalated or answered, `score` when a case's
 * score changes, `status` when the stream opens (`live`) and when a feed from
 * scoring (`orders`, `scores`) is up or drops.
 * Both come from scoring's watch streams, opened with the person's own
 * token, so an agency gets its own agency's updates only.
 */
export function live(s: Services, session: Session, c: Context): Response {
  return streamSSE(c, async (stream) => {
    const md = bearer(session.token);
    const open = new Set<ClientReadableStream<unknown>>();
    let closed = false;
    let id = 0;
    const send = (event: string, data: unknown) =>
      stream
        .writeSSE({ event, data: JSON.stringify(data), id: String(++id) })
        .catch(() => undefined);

    /**
     * One of scoring's watches, opened again REOPEN_MS after it ends. The
     * feed is reported up once scoring has sent the watch's headers (it
     * does once the watch is subscribed), and down when it ends: never up
     * for a call that has only been started, so a page does not show "live"
     * while scoring is away.
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
        const again = (why: string) => {
          if (ended) return;
          ended = true;
          open.delete(call as ClientReadableStream<unknown>);
          if (closed) return;
          void send('status', { feed: name, up: false, why });
          setTimeout(run, REOPEN_MS);
        };
        call.on('error', (e: Error & { details?: string }) => again(e.details ?? e.message));
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
    await send('status', { feed: 'live', up: true });

    await new Promise<void>((resolve) => {
      const beat = setInterval(() => {
        void stream.write(': keep-alive\n\n').catch(() => undefined);
      }, HEARTBEAT_MS);
      stream.onAbort(() => {
        closed = true;
        clearInterval(beat);
        for (const call of open) call.cancel();
        open.clear();
        resolve();
      });
    });
  });
}
