import { metrics, type ObservableResult } from '@opentelemetry/api';
import type { OrderView } from '../domain/case-view.js';

/**
 * Unanswered supervision orders, by whether they were escalated and whether
 * their response deadline has passed: an escalated order unanswered past its
 * deadline is what the operators' alert looks for. Read from the orders read
 * model at most every `everyMs`, whatever the collection interval.
 */
export function observeUnansweredOrders(
  read: () => Promise<readonly OrderView[]>,
  now: () => number = Date.now,
  everyMs = 30_000,
): () => void {
  const gauge = metrics
    .getMeter('supervision-scoring')
    .createObservableGauge('enforcement.supervision.orders_unanswered', {
      description:
        'Supervision orders not answered yet, by escalated (ever) and overdue (past the response deadline)',
      unit: '{order}',
    });
  let last: { at: number; counts: Map<string, number> } | undefined;
  const observe = async (r: ObservableResult) => {
    if (!last || now() - last.at >= everyMs) {
      const counts = new Map<string, number>();
      for (const escalated of ['true', 'false'])
        for (const overdue of ['true', 'false']) counts.set(`${escalated}|${overdue}`, 0);
      const at = now();
      for (const o of (await read().catch(() => undefined)) ?? []) {
        if (o.answeredAt) continue;
        const key = `${o.escalated}|${new Date(o.responseDueAt).getTime() < at}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      last = { at, counts };
    }
    for (const [key, n] of last.counts) {
      const [escalated = 'false', overdue = 'false'] = key.split('|');
      r.observe(n, { escalated, overdue });
    }
  };
  gauge.addCallback(observe);
  return () => gauge.removeCallback(observe);
}
