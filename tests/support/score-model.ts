import type { events } from '@enforcement/contracts';
import { applyEvent, emptyView } from '@enforcement/supervision-scoring';

/**
 * Every case's view as the scoring model sees it: its own history folded,
 * and the reconsiderations that corrected its decision (other cases' streams).
 */
export function modelViews(histories: ReadonlyMap<string, readonly events.CaseEvent[]>) {
  const views = new Map([...histories].map(([id, h]) => [id, h.reduce(applyEvent, emptyView(id))]));
  for (const v of views.values()) {
    const target = v.review?.enforcementCaseId ?? '';
    const corrected = views.get(target);
    if (v.review?.corrected && corrected && target !== v.caseId)
      corrected.correctedBy = [...corrected.correctedBy, v.caseId];
  }
  return views;
}
