import type { events } from '@enforcement/contracts';
import { fold, initialState, type CaseState } from '../domain/state.js';
import type { DomainEvent } from '../domain/types.js';

export function toDomainEvent(e: events.CaseEvent): DomainEvent | undefined {
  if (!e.payload) return undefined;
  return { occurredAt: e.occurredAt ?? new Date(0), payload: e.payload };
}

export function stateOf(
  evs: readonly events.CaseEvent[],
  from: CaseState = initialState(),
): CaseState {
  return fold(
    evs.map(toDomainEvent).filter((d): d is DomainEvent => d !== undefined),
    from,
  );
}
