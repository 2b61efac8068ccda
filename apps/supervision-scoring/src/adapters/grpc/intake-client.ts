import {
  credentials,
  Metadata,
  status,
  type ChannelCredentials,
  type ServiceError,
} from '@grpc/grpc-js';
import { intake, type events } from '@enforcement/contracts';
import { precondition } from '@enforcement/errors';
import { clientChannelOptions } from '@enforcement/grpc-kit';
import type {
  History,
  IntakeCommands,
  ItemOutcome,
  SupervisionItem,
} from '../../application/ports.js';

/**
 * Statuses that say "not now": the action is sent again on a later pass.
 * A refusal of who sent it (scoring's token, its role) is one too: nothing is
 * wrong with the action, and it goes once the token is put right.
 */
const RETRY = new Set<number>([
  status.UNAVAILABLE,
  status.UNAUTHENTICATED,
  status.PERMISSION_DENIED,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.INTERNAL,
  status.UNKNOWN,
]);

/** The intake command that carries out one rule action, dated when its condition first held. */
function commandOf(item: SupervisionItem): intake.Command {
  const a = item.action;
  const meta = {
    commandId: a.commandId,
    caseId: item.caseId,
    occurredAt: new Date(a.at),
    expectedVersion: item.expectedVersion,
  };
  switch (a.kind) {
    case 'OPEN_ORDER':
      return {
        kind: {
          $case: 'openSupervisionOrder',
          value: {
            meta,
            orderId: a.orderId,
            reason: a.reason,
            note: a.note,
            responseDueAt: new Date(a.responseDueAt),
            ruleId: a.commandId,
          },
        },
      };
    case 'ESCALATE':
      return {
        kind: {
          $case: 'escalateSupervisionOrder',
          value: {
            meta,
            orderId: a.orderId,
            reason: a.reason,
            responseDueAt: new Date(a.responseDueAt),
          },
        },
      };
    case 'EVALUATE': {
      const s = item.score;
      if (!s) throw new Error(`evaluation ${a.commandId} without a score`);
      return {
        kind: {
          $case: 'recordEvaluation',
          value: { meta, score: s.score, modelVersion: s.modelVersion, indicators: s.indicators },
        },
      };
    }
    default: {
      const _exhaustive: never = a;
      return _exhaustive;
    }
  }
}

/** Every call to intake has a deadline: a stalled intake fails the firing, which is retried next tick. */
const deadline = () => ({ deadline: Date.now() + 15_000 });

/** case-intake over gRPC, as the supervisor: how the rules and evaluations close the loop. */
export class IntakeClient implements IntakeCommands, History {
  private readonly client: intake.CaseIntakeServiceClient;

  constructor(
    address: string,
    private readonly token: () => Promise<string>,
    channel: ChannelCredentials = credentials.createInsecure(),
  ) {
    // Tried again within seconds of an outage's end, not grpc's two minutes.
    this.client = new intake.CaseIntakeServiceClient(address, channel, clientChannelOptions);
  }

  private async md(): Promise<Metadata> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${await this.token()}`);
    return md;
  }

  /** Every rule action of a pass over one SubmitEvents stream, with an acknowledgement per item. */
  async supervise(items: readonly SupervisionItem[]): Promise<ItemOutcome[]> {
    const md = await this.md();
    const acks = await new Promise<intake.SubmitEventsResponse[]>((resolve, reject) => {
      const out: intake.SubmitEventsResponse[] = [];
      const stream = this.client.submitEvents(md, {
        deadline: Date.now() + 15_000 + items.length * 50,
      });
      stream.on('data', (a: intake.SubmitEventsResponse) => out.push(a));
      stream.on('end', () => resolve(out));
      stream.on('error', reject);
      let i = 0;
      const pump = () => {
        while (i < items.length) {
          const item = items[i] as SupervisionItem;
          if (!stream.write({ sequence: ++i, command: commandOf(item) }))
            return void stream.once('drain', pump);
        }
        stream.end();
      };
      pump();
    });
    const bySequence = new Map(acks.map((a) => [Number(a.sequence), a]));
    return items.map((_, i): ItemOutcome => {
      const a = bySequence.get(i + 1);
      if (!a) return { ok: false, retry: true, code: 'NO_ACK', reason: 'no acknowledgement' };
      if (a.accepted || a.duplicate) return { ok: true };
      return {
        ok: false,
        retry: RETRY.has(a.statusCode),
        code: a.errorCode,
        reason: a.reason,
      };
    });
  }

  /**
   * The case's history from `fromVersion`; none for a case intake does not
   * hold (a message keyed to it came from elsewhere). Intake's refusal to
   * read a history it holds but cannot read is a precondition that names
   * why; its outages stay gRPC errors, which callers answer UNAVAILABLE.
   */
  async read(caseId: string, fromVersion: number): Promise<events.CaseEvent[]> {
    const md = await this.md();
    return new Promise((resolve, reject) => {
      const out: events.CaseEvent[] = [];
      const stream = this.client.readStream({ caseId, fromVersion }, md, deadline());
      stream.on('data', (r: intake.ReadStreamResponse) => r.event && out.push(r.event));
      stream.on('end', () => resolve(out));
      stream.on('error', (e: ServiceError) => {
        if (e.code === status.NOT_FOUND) resolve([]);
        else if (e.code === status.FAILED_PRECONDITION)
          reject(
            precondition(
              'RELEASE.HISTORY_UNREADABLE',
              `intake cannot read the history of case ${caseId}: ${e.details}`,
            ),
          );
        else reject(e);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
