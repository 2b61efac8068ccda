import type { events, intake } from '@enforcement/contracts';
import type { BenchmarkTable } from '@enforcement/reference-data';

/** Any command intake accepts: the `kind` oneof of intake.v1.Command. */
export type Command = NonNullable<intake.Command['kind']>;
export type CommandName = Command['$case'];

/** What happened: the `payload` oneof of events.v1.CaseEvent. */
export type EventPayload = NonNullable<events.CaseEvent['payload']>;
export type EventName = EventPayload['$case'];

/** An event as the domain sees it: when it happened and what. */
export interface DomainEvent {
  readonly occurredAt: Date;
  readonly payload: EventPayload;
}

/** Everything decide needs besides the command and the state; no clock or ids inside. */
export interface DecideContext {
  /** When intake received the command. */
  readonly now: Date;
  /** When the act happened (the command's occurred_at, else now). */
  readonly occurredAt: Date;
  readonly benchmarks: BenchmarkTable;
}

export const meta = (c: Command): intake.CommandMeta | undefined => c.value.meta;
